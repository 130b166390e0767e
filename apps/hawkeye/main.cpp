#include "cli.h"

int main(int argc, char** argv) { return hawkeye::cli::run(argc, argv); }
