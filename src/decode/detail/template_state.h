#pragma once

// PLACEHOLDER until the NetFlow v9 / IPFIX template decoder lands: defines the type so the
// tree links. Replaced wholesale by the template decoder's real state.

namespace fathom::decode {

struct TemplateState {};

}  // namespace fathom::decode
