/**
 * The file operations of the file store, on Deno (its own APIs) and on Node and Bun (`node:fs`
 * taken from `process.getBuiltinModule`, not imported, so that a browser bundle finds no
 * `node:` import): read, an atomic durable write, a write in place with a data sync (the log),
 * remove, and the lock that keeps one session to one process.
 *
 * @module
 */

import type * as NodeFs from "node:fs";
import { SessionStoreError } from "./errors.ts";

/** A file open for writes in place (the log): one writer, its writes in order. */
export interface WritableFile {
  /** Writes `bytes` at offset `at` (not durable until {@linkcode WritableFile.syncData}). */
  write(bytes: Uint8Array, at: number): Promise<void>;
  /** Makes the writes so far durable (`fdatasync`: the data and the size, not the times). */
  syncData(): Promise<void>;
  /** {@linkcode WritableFile.syncData}, holding the event loop until the disk answers. */
  syncDataNow(): void;
  /** Closes the file. */
  close(): Promise<void>;
}

/** What the file store needs of a runtime's file system. */
export interface FileSystem {
  /** The file's bytes, or `undefined` when it does not exist. */
  read(path: string): Promise<Uint8Array | undefined>;
  /**
   * Replaces the file atomically and durably: writes `path.tmp`, syncs it, renames it over
   * `path`, syncs the folder (where the platform can).
   */
  replace(path: string, bytes: Uint8Array): Promise<void>;
  /** Removes the file if it exists (and syncs the folder). */
  remove(path: string): Promise<void>;
  /** Opens an existing file to write in place. */
  openForWrite(path: string): Promise<WritableFile>;
  /**
   * Takes the lock of `path` (the file `path.lock`); refuses with {@linkcode SessionStoreError}
   * reason `locked` while another process (or store) holds it. Resolves to its release.
   */
  lock(path: string): Promise<() => Promise<void>>;
}

/** The folder of `path` (`.` for a bare name). */
function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i < 0 ? "." : i === 0 ? path.slice(0, 1) : path.slice(0, i);
}

type Holder = { runtime: string; pid: number } | undefined;

/** Parses a lock file's text, `<runtime> <pid>`. */
function holderOf(text: string): Holder {
  const m = /^(deno|node|bun) (\d+)\n?$/.exec(text);
  return m ? { runtime: m[1]!, pid: Number(m[2]) } : undefined;
}

type Liveness = "alive" | "dead" | "unknown";

/** Whether process `pid` runs, by `process.kill(pid, 0)`; `unknown` where it cannot be asked. */
function liveness(pid: number): Liveness {
  const proc = (globalThis as {
    process?: { kill?: (pid: number, signal: number) => unknown };
  }).process;
  if (typeof proc?.kill !== "function") return "unknown";
  try {
    proc.kill(pid, 0);
    return "alive";
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ESRCH") return "dead";
    if (code === "EPERM") return "alive";
    return "unknown";
  }
}

function locked(path: string, holder: Holder, detail: string): SessionStoreError {
  const who = holder ? `process ${holder.pid} (${holder.runtime})` : "another store";
  return new SessionStoreError(
    "locked",
    `Cannot open the session store ${path}: ${who} uses it${detail}; one session belongs to one process at a time (close the other store, or delete ${path}.lock if no process uses it)`,
  );
}

/** The Deno file system: its own APIs, the lock an exclusive `flock` the OS drops with the process. */
function denoFs(): FileSystem {
  const syncDir = async (path: string) => {
    if (Deno.build.os === "windows") return;
    const dir = await Deno.open(dirOf(path), { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  };
  return {
    async read(path) {
      try {
        return await Deno.readFile(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    },
    async replace(path, bytes) {
      const tmp = path + ".tmp";
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
      try {
        for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, path);
      await syncDir(path);
    },
    async remove(path) {
      try {
        await Deno.remove(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw e;
      }
      await syncDir(path);
    },
    async openForWrite(path) {
      const file = await Deno.open(path, { write: true });
      return {
        write(bytes, at) {
          // Synchronous: a write to the page cache takes microseconds, where an async op costs
          // a round trip through the runtime's thread pool (measured: a quarter of a save).
          // Writes to one file come one after another (the store queues its saves).
          file.seekSync(at, Deno.SeekMode.Start);
          for (let n = 0; n < bytes.length;) n += file.writeSync(bytes.subarray(n));
          return Promise.resolve();
        },
        syncData: () => file.syncData(),
        syncDataNow: () => file.syncDataSync(),
        close() {
          file.close();
          return Promise.resolve();
        },
      };
    },
    async lock(path) {
      const lockPath = path + ".lock";
      const file = await Deno.open(lockPath, { read: true, write: true, create: true });
      try {
        if (!(await file.tryLock(true))) throw locked(path, undefined, "");
        // The file is never removed (removing it would let a third store lock a new file while
        // a second still waits on the old one); its text names the holder, for Node and Bun.
        const holder = holderOf(await Deno.readTextFile(lockPath));
        if (holder !== undefined && holder.runtime !== "deno") {
          // A lock file of Node or Bun: theirs holds no flock, so ask whether its process runs.
          const alive = holder.pid === Deno.pid ? "alive" : liveness(holder.pid);
          if (alive !== "dead") {
            throw locked(
              path,
              holder,
              alive === "unknown" ? " (or did: run with --allow-run to let Deno check)" : "",
            );
          }
        }
        await file.truncate(0);
        await file.seek(0, Deno.SeekMode.Start);
        await file.write(new TextEncoder().encode(`deno ${Deno.pid}\n`));
      } catch (e) {
        file.close();
        throw e;
      }
      return () => {
        file.close(); // Releases the flock.
        return Promise.resolve();
      };
    },
  };
}

/**
 * The Node and Bun file system: `node:fs`; the lock is `path.lock` created exclusively (a
 * hard link of a file already holding `<runtime> <pid>`, so it is never seen empty), taken over
 * when its process is dead.
 */
function nodeFs(fs: typeof NodeFs, runtime: string, pid: number): FileSystem {
  const p = fs.promises;
  const syncDir = async (path: string) => {
    if ((globalThis as { process?: { platform?: string } }).process?.platform === "win32") return;
    const dir = await p.open(dirOf(path), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  };
  const notFound = (e: unknown) => (e as { code?: string }).code === "ENOENT";
  return {
    async read(path) {
      try {
        return new Uint8Array(await p.readFile(path));
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async replace(path, bytes) {
      const tmp = path + ".tmp";
      const file = await p.open(tmp, "w");
      try {
        for (let at = 0; at < bytes.length;) {
          at += (await file.write(bytes, at, bytes.length - at)).bytesWritten;
        }
        await file.sync();
      } finally {
        await file.close();
      }
      await p.rename(tmp, path);
      await syncDir(path);
    },
    async remove(path) {
      try {
        await p.unlink(path);
      } catch (e) {
        if (notFound(e)) return;
        throw e;
      }
      await syncDir(path);
    },
    async openForWrite(path) {
      const file = await p.open(path, "r+");
      return {
        write(bytes, at) {
          // Synchronous, as on Deno: a write to the page cache takes microseconds.
          for (let n = 0; n < bytes.length;) {
            n += fs.writeSync(file.fd, bytes, n, bytes.length - n, at + n);
          }
          return Promise.resolve();
        },
        syncData: () => file.datasync(),
        syncDataNow: () => fs.fdatasyncSync(file.fd),
        close: () => file.close(),
      };
    },
    async lock(path) {
      const lockPath = path + ".lock";
      const mine = `${lockPath}.${pid}.tmp`;
      await p.writeFile(mine, `${runtime} ${pid}\n`);
      try {
        for (let attempt = 0;; attempt++) {
          try {
            await p.link(mine, lockPath);
            break;
          } catch (e) {
            if ((e as { code?: string }).code !== "EEXIST" || attempt > 0) {
              if ((e as { code?: string }).code === "EEXIST") throw locked(path, undefined, "");
              throw e;
            }
          }
          let text = "";
          try {
            text = await p.readFile(lockPath, "utf8");
          } catch (e) {
            if (!notFound(e)) throw e;
          }
          const holder = holderOf(text);
          if (holder === undefined && text !== "") throw locked(path, holder, "");
          if (holder !== undefined) {
            if (holder.pid === pid) throw locked(path, holder, " (another store in this process)");
            const alive = liveness(holder.pid);
            if (alive !== "dead") throw locked(path, holder, "");
          }
          // Its process is dead: the lock is stale; take it over.
          try {
            await p.unlink(lockPath);
          } catch (e) {
            if (!notFound(e)) throw e;
          }
        }
      } finally {
        await p.unlink(mine).catch(() => {});
      }
      return async () => {
        await p.unlink(lockPath).catch(() => {});
      };
    },
  };
}

/** The file system of the runtime: Deno's own, else `node:fs` (Node 20.16 and later, Bun). */
export function fileSystem(): FileSystem {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  if (deno?.version?.deno !== undefined) return denoFs();
  const proc = (globalThis as {
    process?: { getBuiltinModule?: (id: string) => unknown; pid?: number; versions?: object };
  }).process;
  if (typeof proc?.getBuiltinModule !== "function") {
    throw new TypeError(
      "Cannot use the file session store: this runtime has neither Deno's file APIs nor process.getBuiltinModule for node:fs; use Deno, Node 20.16 or later, or Bun (in browsers, an IndexedDB store)",
    );
  }
  const runtime = "bun" in (proc.versions ?? {}) ? "bun" : "node";
  return nodeFs(proc.getBuiltinModule("node:fs") as typeof NodeFs, runtime, proc.pid ?? 0);
}

/** The `node:fs` file system (on Deno too, for tests of the Node and Bun path). */
export function nodeFileSystem(): FileSystem {
  const proc = (globalThis as {
    process: { getBuiltinModule: (id: string) => unknown; pid: number };
  }).process;
  return nodeFs(proc.getBuiltinModule("node:fs") as typeof NodeFs, "node", proc.pid);
}
