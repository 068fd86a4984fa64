#include "app/cli.h"

int main(int argc, char** argv) {
  return fathom::app::run_cli(argc, argv);
}
