#include "cli/train_flags.h"

#include "engine/error.h"

namespace hqlt::cli {

const char* const kTrainFlagsHelp =
    "what to train:\n"
    "  --task T               parity | modular_arithmetic | mqar | text | tokens (default parity)\n"
    "  --model M              transformer | delta_net | sync_hqlt | delayed_stream_hqlt |\n"
    "                         delayed_chunk_hqlt | sync_linear_hqlt | delta_net_attn\n"
    "                         (default sync_hqlt)\n"
    "  --model-config FILE    a config.json in the reference format instead of --model\n"
    "  --set KEY=VALUE        change one config.json key (repeatable), e.g. --set chunk_size=16;\n"
    "                         --set 'attn={\"layers\": [1], \"num_heads\": 4}' makes a layer-wise hybrid\n"
    "  --d-model N --layers N --heads N --chunk-size N --init-range X   the named model's shape\n"
    "data:\n"
    "  --data FILE            text: any file (bytes); tokens: uint16/uint32 token ids\n"
    "  --seq-len N            text, tokens: window length (default 256)\n"
    "  --token-width 16|32    tokens: bits per id (default 16)\n"
    "  --vocab-size N         tokens: the vocabulary size; mqar: keys and values (recipe: 128)\n"
    "  --mqar-train-pairs N --mqar-train-length N   mqar: training draws 4..N pairs (recipe: 32, 128)\n"
    "  --mqar-eval-pairs N --mqar-eval-length N     mqar: the test setting (default 16, 128)\n"
    "  --curriculum N         parity, modular_arithmetic: the longest training length grows\n"
    "                         from the shortest to the longest over the first N steps\n"
    "                         (0: off; recipe: off for parity, 4/5 of --steps for\n"
    "                         modular_arithmetic)\n"
    "  --curriculum-start L   the longest training length at step 0 (default: the shortest;\n"
    "                         recipe for modular_arithmetic: 11)\n"
    "optimisation (defaults: the task's recipe):\n"
    "  --steps N --batch-size N --lr X --warmup N --final-lr-factor X\n"
    "  --schedule cosine|linear|constant --weight-decay X --beta2 X --clip X (0: off) --seed N\n"
    "bookkeeping:\n"
    "  --log-interval N --eval-interval N (0: only at the end) --eval-examples N --test-examples N\n"
    "  --checkpoint-interval N (0: only at the end and on Ctrl-C)\n"
    "  --test-on last|best    test the last step's weights or those of the best validation,\n"
    "                         which the run keeps in best/: the highest accuracy (parity, modular\n"
    "                         arithmetic, mqar) or the lowest loss (text, tokens)\n"
    "  --restarts N           up to N fresh starts (new weights, the schedule again) while the\n"
    "                         best validation accuracy stays below --restart-below X (default\n"
    "                         0.99); an attempt still at chance halfway is given up early\n"
    "  --average-weights D    also validate an average of the weights, a <- D*a + (1-D)*w after\n"
    "                         every step (0: off); it goes to best/ when it validates better\n"
    "  --confirm-examples N   score a validation that reaches --restart-below again on N more\n"
    "                         validation examples, by its worst length bucket (0: off); the\n"
    "                         confirmed ones outrank the rest, and the run ends (or restarts\n"
    "                         stop) once one has every bucket at --restart-below or more\n"
    "how to run:\n"
    "  --threads N            CPU threads (default: all cores)\n"
    "  --device cpu|cuda      (default cpu)\n";

std::string task_from_args(const Args& args, const std::string& fallback) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--task") return args[i + 1];
  return fallback;
}

bool read_train_option(ArgReader& r, train::TrainOptions& o) {
  if (r.is("--task")) o.task = r.value();
  else if (r.is("--model")) o.model = r.value();
  else if (r.is("--model-config")) o.model_config_path = r.value();
  else if (r.is("--set")) o.overrides.push_back(r.value());
  else if (r.is("--d-model")) o.shape.hidden_size = r.positive_int();
  else if (r.is("--layers")) o.shape.num_layers = r.positive_int();
  else if (r.is("--heads")) o.shape.num_heads = r.positive_int();
  else if (r.is("--chunk-size")) o.shape.chunk_size = r.positive_int();
  else if (r.is("--init-range")) o.shape.initializer_range = r.positive_double();
  else if (r.is("--data")) o.data_path = r.value();
  else if (r.is("--seq-len")) o.seq_len = r.positive_int();
  else if (r.is("--token-width")) {
    const int64_t bits = r.positive_int();
    HQLT_CHECK(bits == 16 || bits == 32, "--token-width must be 16 or 32, got ", bits);
    o.token_width = bits == 16 ? train::TokenWidth::u16 : train::TokenWidth::u32;
  } else if (r.is("--vocab-size")) o.vocab_size = r.positive_int();
  else if (r.is("--mqar-train-pairs")) o.mqar_train_pairs = r.positive_int();
  else if (r.is("--mqar-train-length")) o.mqar_train_length = r.positive_int();
  else if (r.is("--mqar-eval-pairs")) o.mqar_eval_pairs = r.positive_int();
  else if (r.is("--mqar-eval-length")) o.mqar_eval_length = r.positive_int();
  else if (r.is("--curriculum")) o.curriculum_steps = r.non_negative_int();
  else if (r.is("--curriculum-start")) o.curriculum_start = r.non_negative_int();
  else if (r.is("--steps")) o.steps = r.positive_int();
  else if (r.is("--batch-size")) o.batch_size = r.positive_int();
  else if (r.is("--lr")) o.lr = r.positive_double();
  else if (r.is("--warmup")) o.warmup_steps = r.non_negative_int();
  else if (r.is("--final-lr-factor")) o.final_lr_factor = r.non_negative_double();
  else if (r.is("--schedule")) {
    const std::string v = r.value();
    if (v == "cosine") o.decay = nn::Decay::cosine;
    else if (v == "linear") o.decay = nn::Decay::linear;
    else if (v == "constant") o.decay = nn::Decay::constant;
    else fail("--schedule must be cosine, linear or constant, got '", v, "'");
  } else if (r.is("--weight-decay")) o.weight_decay = r.non_negative_double();
  else if (r.is("--beta2")) o.beta2 = r.positive_double();
  else if (r.is("--clip")) o.clip = r.non_negative_double();
  else if (r.is("--seed")) o.seed = uint64_t(r.non_negative_int());
  else if (r.is("--log-interval")) o.log_interval = r.positive_int();
  else if (r.is("--eval-interval")) o.eval_interval = r.non_negative_int();
  else if (r.is("--eval-examples")) o.eval_examples = r.positive_int();
  else if (r.is("--test-examples")) o.test_examples = r.positive_int();
  else if (r.is("--checkpoint-interval")) o.checkpoint_interval = r.non_negative_int();
  else if (r.is("--test-on")) o.test_best = train::parse_test_on(r.value());
  else if (r.is("--restarts")) o.restarts = r.non_negative_int();
  else if (r.is("--restart-below")) o.restart_below = r.non_negative_double();
  else if (r.is("--average-weights")) o.average_decay = r.non_negative_double();
  else if (r.is("--confirm-examples")) o.confirm_examples = r.non_negative_int();
  else if (r.is("--threads")) o.threads = int(r.positive_int());
  else if (r.is("--device")) o.device = r.value();
  else return false;
  return true;
}

}  // namespace hqlt::cli
