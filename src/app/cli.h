#pragma once

namespace fathom::app {

/// Parses the command line and runs the chosen subcommand. Returns the process exit code;
/// errors in arguments, files or config are reported on stderr with a non-zero code.
int run_cli(int argc, char** argv);

}  // namespace fathom::app
