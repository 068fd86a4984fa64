#pragma once
// Definition of transform::flatten_prefixes (declared in transform/range_table.h).
// TODO(#6): implemented by the range-table work; this placeholder only declares nothing.
