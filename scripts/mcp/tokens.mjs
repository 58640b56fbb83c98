// Counts tokens with the cl100k_base encoding (js-tiktoken, which ships
// its ranks). Usage: node tokens.mjs TOOLS_DIR < strings.json, where
// TOOLS_DIR is what scripts/mcp/install.sh prints and strings.json is a
// JSON array of strings; prints a JSON array of their token counts.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const require = createRequire(path.resolve(process.argv[2], "node", "package.json"));
const { Tiktoken } = require("js-tiktoken/lite");
const cl100k = require("js-tiktoken/ranks/cl100k_base");
const enc = new Tiktoken(cl100k.default ?? cl100k);
const texts = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(texts.map((t) => enc.encode(t).length)) + "\n");
