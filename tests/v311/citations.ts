// The MQTT 3.1.1 citation audit: which client-relevant normative statements of 3.1.1 some test
// cites as `[v3.1.1 MQTT-x.y.z-n]`. It prints the counts and every statement no test cites, with
// the reason recorded below; it does not fail on missing citations (yet).
//
// Not a test module: the suite runs with the "broker" permission set, which may read neither
// tests/ nor the specification's table outside the repository. Run it from the repository root:
//
//   deno run --allow-read=tests,../shared/spec tests/v311/citations.ts [path/to/table.tsv]
//
// The table has the columns id, section, who, client_relevant, summary (and source).

/** One normative statement of the table. */
interface Statement {
  id: string;
  section: string;
  who: string;
  clientRelevant: boolean;
  summary: string;
}

/**
 * Why a client-relevant statement has no 3.1.1 test of its own. Printed beside each uncited id;
 * an entry for an id that is cited is reported as stale.
 */
const REASONS: Record<string, string> = {};

const CITATION = /\[v3\.1\.1 (MQTT-\d+(?:\.\d+)*-\d+)\]/g;

/** Parses the table: one statement per line after the header, tab-separated. */
export function parseTable(text: string): Statement[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines.shift()?.split("\t") ?? [];
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`The table has no column "${name}" (columns: ${header})`);
    return i;
  };
  const [id, section, who, relevant, summary] = [
    col("id"),
    col("section"),
    col("who"),
    col("client_relevant"),
    col("summary"),
  ];
  return lines.map((line) => {
    const f = line.split("\t");
    return {
      id: f[id]!,
      section: f[section]!,
      who: f[who]!,
      clientRelevant: f[relevant] === "yes",
      summary: f[summary] ?? "",
    };
  });
}

/** Every `[v3.1.1 MQTT-…]` citation under `dir`, as id -> the files citing it. */
export async function citations(dir: URL, root = dir): Promise<Map<string, Set<string>>> {
  const found = new Map<string, Set<string>>();
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) {
      for (const [id, files] of await citations(url, root)) {
        for (const f of files) add(found, id, f);
      }
    } else if (/\.(ts|md)$/.test(entry.name)) {
      const text = await Deno.readTextFile(url);
      const file = url.pathname.slice(root.pathname.length);
      for (const m of text.matchAll(CITATION)) add(found, m[1]!, file);
    }
  }
  return found;
}

function add(map: Map<string, Set<string>>, id: string, file: string): void {
  let files = map.get(id);
  if (files === undefined) map.set(id, files = new Set());
  files.add(file);
}

/** Sorts statement ids by their numbers: MQTT-3.1.2-9 before MQTT-3.1.2-10. */
function byId(a: string, b: string): number {
  const na = a.match(/\d+/g)!.map(Number);
  const nb = b.match(/\d+/g)!.map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

if (import.meta.main) {
  const tests = new URL("../", import.meta.url);
  const table = Deno.args[0] ??
    new URL("../../../shared/spec/mqtt-v311-normative.tsv", import.meta.url);
  const statements = parseTable(await Deno.readTextFile(table));
  const cited = await citations(tests);
  const relevant = statements.filter((s) => s.clientRelevant);
  const isCited = (s: Statement) => cited.has(s.id);
  const count = (list: Statement[]) => `${list.filter(isCited).length} / ${list.length}`;
  const clientSide = relevant.filter((s) => s.who !== "server");
  const serverSide = relevant.filter((s) => s.who === "server");

  console.log(`MQTT 3.1.1 client-relevant statements cited by tests/ (cited / total)`);
  console.log(`  all client-relevant:                 ${count(relevant)}`);
  console.log(`  who = client, both, sender, receiver: ${count(clientSide)}`);
  for (const who of ["client", "both", "sender", "receiver"]) {
    console.log(`    ${who.padEnd(9)}${count(clientSide.filter((s) => s.who === who))}`);
  }
  console.log(`  who = server:                        ${count(serverSide)}`);

  const perFile = new Map<string, number>();
  for (const files of cited.values()) {
    for (const f of files) perFile.set(f, (perFile.get(f) ?? 0) + 1);
  }
  console.log(`\nDistinct 3.1.1 ids cited, per file:`);
  for (const [file, n] of [...perFile].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`  ${String(n).padStart(3)}  ${file}`);
  }

  const uncited = relevant.filter((s) => !isCited(s)).sort((a, b) => byId(a.id, b.id));
  console.log(`\nUncited client-relevant statements (${uncited.length}):`);
  for (const s of uncited) {
    console.log(`  ${s.id.padEnd(14)} ${s.who.padEnd(8)} ${REASONS[s.id] ?? "NO REASON RECORDED"}`);
    console.log(`  ${"".padEnd(14)} ${"".padEnd(8)} (${s.summary})`);
  }

  const known = new Map(statements.map((s) => [s.id, s]));
  const unknown = [...cited.keys()].filter((id) => !known.has(id)).sort(byId);
  if (unknown.length > 0) {
    console.log(`\nCited ids not in the table (typos, or ids the table lacks):`);
    for (const id of unknown) console.log(`  ${id}  in ${[...cited.get(id)!].join(", ")}`);
  }
  const notRelevant = [...cited.keys()].filter((id) => known.get(id)?.clientRelevant === false);
  if (notRelevant.length > 0) {
    console.log(
      `\nCited ids the table marks not client-relevant: ${notRelevant.sort(byId).join(" ")}`,
    );
  }
  const stale = Object.keys(REASONS).filter((id) => cited.has(id) || !known.has(id));
  if (stale.length > 0) {
    console.log(`\nReasons recorded for ids that are cited or unknown (remove them): ${stale}`);
  }
}
