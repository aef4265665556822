/**
 * The store page's imports, as a web application takes them: the Client and `connectWebSocket`
 * from `@scope/mqtt5`, the IndexedDB store and `loadSession` from `@scope/mqtt5/store`.
 * `store_test.ts` bundles it with `_store_page.ts` into one module for the page.
 *
 * @module
 */

export { Client, connectWebSocket, Session } from "../../mod.ts";
export {
  encodeSessionFile,
  IndexedDbSessionStore,
  loadSession,
  SessionStoreError,
} from "../../src/store/mod.ts";
