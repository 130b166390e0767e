// The one place where subcommands are registered. Add a line here when adding a cmd_<name>.cpp.
#include "cli.h"

namespace hawkeye::cli {

void add_info_command(CLI::App&, Context&);
void add_synth_command(CLI::App&, Context&);
void add_pairs_command(CLI::App&, Context&);
void add_degrade_command(CLI::App&, Context&);
void add_tokenize_command(CLI::App&, Context&);
void add_metric_command(CLI::App&, Context&);
void add_correlate_command(CLI::App&, Context&);
void add_sft_command(CLI::App&, Context&);
void add_train_command(CLI::App&, Context&);
void add_score_command(CLI::App&, Context&);
void add_eval_command(CLI::App&, Context&);
void add_import_command(CLI::App&, Context&);
void add_serve_command(CLI::App&, Context&);
void add_models_command(CLI::App&, Context&);

const std::vector<CommandEntry>& command_table() {
  static const std::vector<CommandEntry> table = {
      {"info", add_info_command},
      {"models", add_models_command},
      {"synth", add_synth_command},
      {"pairs", add_pairs_command},
      {"degrade", add_degrade_command},
      {"tokenize", add_tokenize_command},
      {"metric", add_metric_command},
      {"correlate", add_correlate_command},
      {"sft", add_sft_command},
      {"train", add_train_command},
      {"score", add_score_command},
      {"eval", add_eval_command},
      {"import", add_import_command},
      {"serve", add_serve_command},
  };
  return table;
}

}  // namespace hawkeye::cli
