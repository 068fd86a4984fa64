#include "app/cli.h"

#include <iostream>

#include <CLI/CLI.hpp>

namespace fathom::app {

int run_cli(int argc, char** argv) {
  CLI::App app{"Fathom: threat detection from sampled flow telemetry"};
  app.require_subcommand(1);
  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "fathom 0.1.0\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

}  // namespace fathom::app
