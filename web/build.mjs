// Bundles src/main.tsx into dist/app.js and copies static/ next to it. `--watch` rebuilds on change.
// dist/ is what `parley local` serves at / and what the CDK stack uploads (with a config.json of its own).
import * as esbuild from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";

const watch = process.argv.includes("--watch");
rmSync("dist", { recursive: true, force: true });
mkdirSync("dist", { recursive: true });
cpSync("static", "dist", { recursive: true });

const options = {
  entryPoints: ["src/main.tsx"],
  outfile: "dist/app.js",
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  legalComments: "none",
  logLevel: "warning",
};
if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log("watching src/ …");
} else {
  await esbuild.build(options);
}
