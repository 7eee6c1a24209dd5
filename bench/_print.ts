// deno-lint-ignore-file no-console -- a program: printing is its job
// Print the Markdown tables of a report again (for the README):
//   deno run -A bench/_print.ts [bench/results/latest.json]
import { readFile } from "node:fs/promises";
import process from "node:process";
import { type BenchReport, describeMachine, table } from "./_runner.ts";

const file = process.argv[2] ?? "bench/results/latest.json";
const report = JSON.parse(await readFile(file, "utf8")) as BenchReport;
console.log(table(report));
console.log();
console.log(describeMachine(report));
