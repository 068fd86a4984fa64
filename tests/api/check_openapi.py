#!/usr/bin/env python3
"""Checks docs/openapi.yaml against itself and against the C++ router of the REST API.

    python3 tests/api/check_openapi.py [SOURCE_DIR]

SOURCE_DIR is the repository's root (default: two levels above this script). Needs only
python3 and PyYAML (Debian: python3-yaml). Exits 0 when everything holds, 1 with one line per
problem otherwise, 2 when a file cannot be read or the C++ no longer has a shape this script
understands (then update the parser below together with the router).

What it checks:
1. docs/openapi.yaml loads, is OpenAPI 3.1, and every `$ref` resolves inside it;
2. every operation has an operationId (unique) and responses (each with a description);
   every `{name}` of a path template is declared as a required path parameter, and every
   declared path parameter is in the template; parameters are not declared twice;
3. the routes of src/api/rest_api.cpp, read from its source (RestApi::Impl::route compares
   `parts[i]` / aliases of them with string literals under `n == N`; RestApi::Impl::handle
   compares `path == "/api/v1/..."` for routes served before the token check), are exactly
   the paths of the description (path parameters compared by position, not by name), under
   `servers[0].url` equal to kApiPrefix;
4. only the methods RestApi::Impl::handle accepts are described (and GET on every path);
5. each route's query parameters are exactly those its handler accepts: the lists given to
   `Params::unknown({...})` in the handler's body in src/api/rest_*.cpp (a handler with two
   lists, such as `incidents`, must have each list used by one of its routes);
6. routes served before the token check have `security: []`, all others need the bearer
   scheme and describe a 401 with a WWW-Authenticate header; operations on a path with
   `{tenant}` describe a 404.
"""

import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.stderr.write("check_openapi: PyYAML is missing (Debian: apt-get install python3-yaml)\n")
    sys.exit(2)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Unparsable(Exception):
    """The C++ source no longer has the shape this script reads."""


# ---- C++ source reading -------------------------------------------------------------------


def digit_separator(src, i):
    """Whether the ' at `i` separates digits (`2'000'000`) rather than opening a character."""
    return i > 0 and (src[i - 1].isalnum() or src[i - 1] == "_")


def strip_comments(src):
    """The source with // and /* */ comments blanked (string literals kept intact)."""
    out = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c == '"' or (c == "'" and not digit_separator(src, i)):
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching(src, start, open_ch, close_ch):
    """Index of the bracket closing the one at `start`, skipping string literals."""
    depth = 0
    i = start
    while i < len(src):
        c = src[i]
        if c == '"' or (c == "'" and not digit_separator(src, i)):
            j = i + 1
            while j < len(src) and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise Unparsable("unbalanced %r from offset %d" % (open_ch, start))


def function_bodies(src, name_pattern):
    """{name: body} of the function definitions `Reply RestApi::Impl::<name>(...) {...}`
    (any return type) whose name matches `name_pattern`."""
    out = {}
    for m in re.finditer(r"\bRestApi::Impl::(%s)\s*\(" % name_pattern, src):
        close = matching(src, m.end() - 1, "(", ")")
        rest = src[close + 1:]
        lead = re.match(r"\s*(const\s*)?(noexcept\s*)?\{", rest)
        if not lead:
            continue  # a declaration or a call, not a definition
        open_brace = close + 1 + lead.end() - 1
        out[m.group(1)] = src[open_brace + 1:matching(src, open_brace, "{", "}")]
    return out


def if_statements(body):
    """(offset, condition, offset after the condition) of every `if (...)` in `body`."""
    for m in re.finditer(r"\bif\s*\(", body):
        close = matching(body, m.end() - 1, "(", ")")
        yield m.start(), body[m.end():close], close + 1


CALL = re.compile(r"\s*return\s+([A-Za-z_]\w*(?:::\w+)*)\s*\(")


def handler_after(body, pos):
    """The function a `return f(...)` right after `pos` calls, or None."""
    m = CALL.match(body, pos)
    return m.group(1) if m else None


def parse_router(src_dir):
    """The C++ routes: {"routes": {segments: handler or None}, "public": set of segments,
    "prefix": "/api/v1", "methods": {"get", "head"}} with segments a tuple of literals and
    None for a path parameter."""
    path = os.path.join(src_dir, "src", "api", "rest_api.cpp")
    with open(path, encoding="utf-8") as f:
        src = strip_comments(f.read())
    m = re.search(r'\bkApiPrefix\s*=\s*"([^"]+)"', src)
    if not m:
        raise Unparsable("%s: no kApiPrefix = \"...\"" % path)
    prefix = m.group(1)
    bodies = function_bodies(src, r"handle|route")
    for name in ("handle", "route"):
        if name not in bodies:
            raise Unparsable("%s: no definition of RestApi::Impl::%s" % (path, name))
    handle, route = bodies["handle"], bodies["route"]

    methods = {x.lower() for x in re.findall(r'request\.method\s*!=\s*"([A-Z]+)"', handle)}
    if not methods:
        raise Unparsable("%s: RestApi::Impl::handle compares request.method with no method"
                         % path)

    # Routes answered in handle() itself (before or after the token check).
    auth = handle.find("authenticate(")
    if auth < 0:
        raise Unparsable("%s: RestApi::Impl::handle has no tokens.authenticate(...)" % path)
    routes = {}
    public = set()
    for m in re.finditer(r'\bpath\s*==\s*"([^"]*)"', handle):
        text = m.group(1)
        if text != prefix and not text.startswith(prefix + "/"):
            continue  # the dashboard's files (`path == "/"`), not the API
        segments = tuple(s for s in text[len(prefix):].split("/") if s)
        if not segments:
            continue
        routes[segments] = None
        if m.start() < auth:
            public.add(segments)

    # route(): `n == N && parts[i] == "lit"` (or an alias of parts[i]).
    aliases = {a: int(i) for a, i in re.findall(r"\b(\w+)\s*=\s*parts\s*\[\s*(\d+)\s*\]", route)}
    comparison = re.compile(r'(parts\s*\[\s*(\d+)\s*\]|\b([A-Za-z_]\w*))\s*(==|!=)\s*"([^"]*)"')
    fixed = {}  # index -> literal, after a guard such as `n < 2 || parts[0] != "tenants"`
    guard_len = 0
    for start, cond, after in if_statements(route):
        comps = []
        for cm in comparison.finditer(cond):
            if cm.group(2) is not None:
                index = int(cm.group(2))
            elif cm.group(3) in aliases:
                index = aliases[cm.group(3)]
            else:
                raise Unparsable("route(): %r compares %s with a literal; only parts[i] and "
                                 "its aliases are understood" % (cond, cm.group(3)))
            comps.append((index, cm.group(4), cm.group(5)))
        n_eq = re.findall(r"\bn\s*==\s*(\d+)", cond)
        n_other = re.findall(r"\bn\s*(<|>|<=|>=|!=)\s*(\d+)", cond)
        negated = [c for c in comps if c[1] == "!="]
        if negated or n_other:
            # The one guard shape understood: `n < K || parts[i] != "lit" || ...`, after
            # which parts[i] is that literal and every other part below K a path parameter.
            ok = (not n_eq and len(n_other) == 1 and n_other[0][0] == "<" and
                  all(c[1] == "!=" for c in comps) and "&&" not in cond)
            if not ok:
                raise Unparsable("route(): condition %r is not a shape this script reads" % cond)
            guard_len = int(n_other[0][1])
            for index, _, lit in negated:
                fixed[index] = lit
            continue
        if not comps and not n_eq:
            continue  # not about the path (`!tenant`, `!who.sees(...)`, ...)
        if not n_eq:
            # A nested test inside a block already routed (`if (what == "traffic") ...`).
            known = {(i, s[i]) for s in routes for i in range(len(s)) if s[i] is not None}
            for index, _, lit in comps:
                if (index, lit) not in known:
                    raise Unparsable("route(): %r routes %r without `n == N`; this script "
                                     "cannot tell the route's length" % (cond, lit))
            continue
        if not conjunction_of_literals(cond, aliases):
            raise Unparsable("route(): condition %r is not a shape this script reads" % cond)
        length = int(n_eq[0])
        by_index = {}
        for index, _, lit in comps:
            if index >= length:
                raise Unparsable("route(): %r tests parts[%d] of a %d-part path"
                                 % (cond, index, length))
            by_index.setdefault(index, []).append(lit)
        combos = [()]
        for i in range(length):
            if i in by_index:
                options = by_index[i]
            elif guard_len and i in fixed:
                options = [fixed[i]]
            else:
                options = [None]
            combos = [c + (o,) for c in combos for o in options]
        handler = handler_after(route, after)
        block = None
        if handler is None:
            brace = re.match(r"\s*\{", route[after:])
            if not brace:
                raise Unparsable("route(): %r is followed neither by `return f(...)` nor by a "
                                 "block" % cond)
            open_brace = after + brace.end() - 1
            block = route[open_brace + 1:matching(route, open_brace, "{", "}")]
        for segments in combos:
            routes[segments] = handler if handler else block_handler(block, segments, aliases)
    return {"routes": routes, "public": public, "prefix": prefix, "methods": methods}


PART = r'(?:parts\[\d+\]|[A-Za-z_]\w*)=="[^"]*"'


def conjunction_of_literals(cond, aliases):
    """Whether `cond` is `n == N && t && ...`, each t a `part == "lit"` or a parenthesised
    `part == "a" || part == "b"` on one part, and no part tested twice."""
    terms = re.sub(r"\s+", "", cond).split("&&")
    if sum(1 for t in terms if re.fullmatch(r"n==\d+", t)) != 1:
        return False
    tested = set()
    for t in terms:
        if re.fullmatch(r"n==\d+", t):
            continue
        if t.startswith("(") and t.endswith(")"):
            t = t[1:-1]
        alternatives = t.split("||")
        if not all(re.fullmatch(PART, a) for a in alternatives):
            return False
        parts = set()
        for a in alternatives:
            lhs = a.split("==")[0]
            m = re.fullmatch(r"parts\[(\d+)\]", lhs)
            parts.add(int(m.group(1)) if m else aliases.get(lhs, lhs))
        if len(parts) != 1 or parts & tested:
            return False
        tested |= parts
    return True


def block_handler(block, segments, aliases):
    """The handler a routing block calls for `segments`: the one after its own
    `if (part == "lit")`, else the block's last `return f(...)`."""
    last = None
    for m in re.finditer(r"\breturn\s+([A-Za-z_]\w*)\s*\(", block):
        last = m.group(1)
    for _, cond, after in if_statements(block):
        lits = re.findall(r'(parts\s*\[\s*(\d+)\s*\]|\b([A-Za-z_]\w*))\s*==\s*"([^"]*)"', cond)
        for _, idx, alias, lit in lits:
            index = int(idx) if idx else aliases.get(alias)
            if index is not None and index < len(segments) and segments[index] == lit:
                h = handler_after(block, after)
                if h and "::" not in h:
                    return h
    return last


def parse_handler_params(src_dir):
    """{handler: [set of allowed query parameter names, ...]} from Params::unknown({...})."""
    api_dir = os.path.join(src_dir, "src", "api")
    out = {}
    for name in sorted(os.listdir(api_dir)):
        if not (name.startswith("rest_") and name.endswith(".cpp")):
            continue
        with open(os.path.join(api_dir, name), encoding="utf-8") as f:
            src = strip_comments(f.read())
        for handler, body in function_bodies(src, r"\w+").items():
            lists = []
            for m in re.finditer(r"\bunknown\s*\(\s*\{", body):
                close = matching(body, m.end() - 1, "{", "}")
                lists.append(frozenset(re.findall(r'"([^"]*)"', body[m.end():close])))
            if lists:
                out.setdefault(handler, []).extend(lists)
    return out


# ---- OpenAPI reading ----------------------------------------------------------------------


def resolve_pointer(doc, ref):
    if not ref.startswith("#/"):
        raise KeyError("only local references are used here")
    node = doc
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise KeyError(token)
    return node


def walk_refs(node, where, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out.append((where, value))
            else:
                walk_refs(value, where + "/" + str(key), out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            walk_refs(value, "%s/%d" % (where, i), out)


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        node = resolve_pointer(doc, node["$ref"])
        seen += 1
    return node


def template_of(path):
    """A path as segments, path parameters as None."""
    return tuple(None if re.fullmatch(r"\{[^{}]+\}", s) else s for s in path.split("/") if s)


def show(segments):
    return "/" + "/".join("{}" if s is None else s for s in segments)


def check(src_dir):
    errors = []
    spec_path = os.path.join(src_dir, "docs", "openapi.yaml")
    with open(spec_path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        return ["docs/openapi.yaml: not a mapping"]
    if not str(doc.get("openapi", "")).startswith("3.1"):
        errors.append("docs/openapi.yaml: `openapi` is %r, not 3.1.x" % doc.get("openapi"))

    refs = []
    walk_refs(doc, "#", refs)
    for where, ref in refs:
        try:
            resolve_pointer(doc, ref)
        except (KeyError, ValueError, IndexError) as e:
            errors.append("%s: $ref %s does not resolve (%s)" % (where, ref, e))

    paths = doc.get("paths") or {}
    operation_ids = {}
    spec_ops = {}  # segments -> {method: (operation, parameters)}
    for path, item in paths.items():
        if not isinstance(item, dict):
            errors.append("paths %s: not a mapping" % path)
            continue
        item_params = [deref(doc, p) for p in item.get("parameters", [])]
        names_in_template = re.findall(r"\{([^{}]+)\}", path)
        if len(set(names_in_template)) != len(names_in_template):
            errors.append("paths %s: a path parameter appears twice" % path)
        segments = template_of(path)
        if segments in spec_ops:
            errors.append("paths %s: the same template as %s" % (path, show(segments)))
        spec_ops[segments] = {}
        for method in item:
            if method not in HTTP_METHODS:
                continue
            op = item[method]
            where = "%s %s" % (method.upper(), path)
            op_id = op.get("operationId")
            if not op_id:
                errors.append("%s: no operationId" % where)
            elif op_id in operation_ids:
                errors.append("%s: operationId %s is also %s" % (where, op_id, operation_ids[op_id]))
            else:
                operation_ids[op_id] = where
            responses = op.get("responses")
            if not isinstance(responses, dict) or not responses:
                errors.append("%s: no responses" % where)
                responses = {}
            for code, response in responses.items():
                try:
                    r = deref(doc, response)
                except (KeyError, ValueError, IndexError):
                    continue  # reported with the $refs
                if not isinstance(r, dict) or not r.get("description"):
                    errors.append("%s: response %s has no description" % (where, code))
            params = {}
            for p in item_params:
                params[(p.get("name"), p.get("in"))] = p
            seen = set()
            for p in op.get("parameters", []):
                try:
                    p = deref(doc, p)
                except (KeyError, ValueError, IndexError):
                    continue
                key = (p.get("name"), p.get("in"))
                if key in seen:
                    errors.append("%s: parameter %s in %s declared twice" % (where, key[0], key[1]))
                seen.add(key)
                params[key] = p  # an operation's parameter overrides the path item's
            declared = {name for (name, where_in) in params if where_in == "path"}
            for name in names_in_template:
                if name not in declared:
                    errors.append("%s: path parameter {%s} is not declared" % (where, name))
                elif params[(name, "path")].get("required") is not True:
                    errors.append("%s: path parameter {%s} is not required: true" % (where, name))
            for name in declared - set(names_in_template):
                errors.append("%s: path parameter %s is not in the path" % (where, name))
            spec_ops[segments][method] = (op, params)

    try:
        router = parse_router(src_dir)
        handler_params = parse_handler_params(src_dir)
    except Unparsable as e:
        raise Unparsable("the C++ router changed shape: %s; update tests/api/check_openapi.py" % e)

    servers = doc.get("servers") or []
    server_url = servers[0].get("url") if servers and isinstance(servers[0], dict) else None
    if server_url != router["prefix"]:
        errors.append("docs/openapi.yaml: servers[0].url is %r; the C++ serves the API under %r"
                      % (server_url, router["prefix"]))

    cxx = router["routes"]
    for segments in sorted(set(cxx) - set(spec_ops), key=show):
        errors.append("route %s%s is handled by src/api/rest_api.cpp but not described in "
                      "docs/openapi.yaml" % (router["prefix"], show(segments)))
    for segments in sorted(set(spec_ops) - set(cxx), key=show):
        errors.append("path %s%s is described in docs/openapi.yaml but src/api/rest_api.cpp "
                      "does not route it" % (router["prefix"], show(segments)))

    global_security = doc.get("security")
    for segments, ops in spec_ops.items():
        where_path = router["prefix"] + show(segments)
        if "get" not in ops:
            errors.append("%s: no GET operation (every route answers GET)" % where_path)
        for method in ops:
            if method not in router["methods"]:
                errors.append("%s %s: RestApi answers %s with 405 (it serves %s only)"
                              % (method.upper(), where_path, method.upper(),
                                 ", ".join(sorted(m.upper() for m in router["methods"]))))
        if segments not in cxx:
            continue
        for method, (op, params) in ops.items():
            where = "%s %s" % (method.upper(), where_path)
            security = op.get("security", global_security)
            public = segments in router["public"]
            anonymous = security is not None and (security == [] or {} in security)
            if public and not anonymous:
                errors.append("%s: served before the token check; needs `security: []`" % where)
            if not public:
                if not security or anonymous:
                    errors.append("%s: needs a token; must not be described as anonymous" % where)
                responses = op.get("responses") or {}
                unauthorized = responses.get("401") or responses.get(401)
                try:
                    unauthorized = deref(doc, unauthorized) if unauthorized else None
                except (KeyError, ValueError, IndexError):
                    unauthorized = None
                if not unauthorized:
                    errors.append("%s: no 401 response" % where)
                elif "WWW-Authenticate" not in (unauthorized.get("headers") or {}):
                    errors.append("%s: its 401 does not describe WWW-Authenticate" % where)
            if None in segments and segments[:1] == ("tenants",):
                responses = op.get("responses") or {}
                if "404" not in responses and 404 not in responses:
                    errors.append("%s: no 404 (another tenant's or an unknown tenant's id)"
                                  % where)
            query = frozenset(name for (name, where_in) in params if where_in == "query")
            handler = cxx[segments]
            if handler is None:
                if query:
                    errors.append("%s: describes query parameters %s; the C++ reads none"
                                  % (where, ", ".join(sorted(query))))
                continue
            allowed = handler_params.get(handler)
            if not allowed:
                errors.append("%s: handler %s() has no Params::unknown({...}) list in "
                              "src/api/rest_*.cpp" % (where, handler))
            elif query not in allowed:
                errors.append("%s: query parameters are [%s]; %s() accepts [%s]"
                              % (where, ", ".join(sorted(query)), handler,
                                 "] or [".join(", ".join(sorted(a)) for a in allowed)))

    # Every list a handler accepts is described by at least one of its routes.
    for handler, lists in handler_params.items():
        routes = [s for s, h in cxx.items() if h == handler and s in spec_ops]
        if not routes:
            continue
        described = {frozenset(n for (n, i) in spec_ops[s]["get"][1] if i == "query")
                     for s in routes if "get" in spec_ops[s]}
        for allowed in lists:
            if allowed not in described:
                errors.append("%s() accepts [%s] but no route of it in docs/openapi.yaml "
                              "describes exactly those query parameters"
                              % (handler, ", ".join(sorted(allowed))))
    return errors


def main(argv):
    src_dir = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    src_dir = os.path.abspath(src_dir)
    try:
        errors = check(src_dir)
    except (OSError, yaml.YAMLError) as e:
        sys.stderr.write("check_openapi: %s\n" % e)
        return 2
    except Unparsable as e:
        sys.stderr.write("check_openapi: %s\n" % e)
        return 2
    if errors:
        for e in errors:
            sys.stderr.write("check_openapi: %s\n" % e)
        sys.stderr.write("check_openapi: %d problem(s) in docs/openapi.yaml against %s\n"
                         % (len(errors), src_dir))
        return 1
    print("check_openapi: docs/openapi.yaml matches the routes of src/api/rest_api.cpp")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
