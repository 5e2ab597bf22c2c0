// Builds the editor island into the Python package: one minified file, no CDN at run time.
// `npm ci && node build.mjs` must leave src/lanner/ui/static/editor.js unchanged (CI checks it).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
// `node build.mjs --outfile <path>` builds elsewhere (the test that compares with the committed one).
const at = process.argv.indexOf("--outfile");
const outfile = at > 0 ? resolve(process.argv[at + 1]) : resolve(here, "../src/lanner/ui/static/editor.js");

await build({
  absWorkingDir: here,
  entryPoints: ["editor.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  banner: { js: "// Lanner flow editor (CodeMirror 6, MIT). Built from ui-src/ by build.mjs: do not edit." },
  outfile,
  logLevel: "warning",
});
