// The README as jsr.io shows it: every link must lead somewhere there. jsr.io publishes only what
// deno.json's publish.include names (not tests/, examples/, bench/, BENCHMARKS.md, ...), so a
// relative link to anything else is a dead link on the package page; such files are named as code
// paths instead.

import { deepStrictEqual, ok } from "node:assert/strict";

const README = new URL("../README.md", import.meta.url);
const DENO_JSON = new URL("../deno.json", import.meta.url);

/** Whether `path` is published: under an included entry and under no excluded one. */
function published(path: string, include: string[], exclude: string[]): boolean {
  const clean = path.replace(/^\.\//, "").replace(/[#?].*$/, "");
  const under = (entry: string) => {
    const e = entry.replace(/^\.\//, "");
    return e.endsWith("/") ? clean.startsWith(e) || clean === e.slice(0, -1) : clean === e;
  };
  return include.some(under) && !exclude.some(under);
}

Deno.test("README.md links only to what jsr.io publishes (publish.include of deno.json)", async () => {
  const readme = await Deno.readTextFile(README);
  const { publish } = JSON.parse(await Deno.readTextFile(DENO_JSON)) as {
    publish: { include: string[]; exclude: string[] };
  };
  const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
  ok(links.length > 0, "the README has links (the check ran)");
  const dead = links.filter((target) =>
    !/^[a-z]+:/i.test(target) && !target.startsWith("#") &&
    !published(target, publish.include, publish.exclude)
  );
  deepStrictEqual(dead, [], "relative links to files jsr.io does not publish");
  // The check itself: a link into tests/ would be reported.
  ok(!published("tests/client/pubsub_test.ts", publish.include, publish.exclude));
  ok(published("src/client/mod.ts", publish.include, publish.exclude));
});
