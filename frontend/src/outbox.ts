// Corrections made while the server is away wait here, in IndexedDB, and go out once it answers:
// each one is deleted only after the server has stored it (201), and one sender runs at a time,
// so none is lost and none sent twice by this page.
const DB = "digitrec";
const STORE = "outbox";

export interface Queued {
  key: string; // one per drawing: a second answer to the same drawing replaces the first
  body: string;
  created: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const put = (item: Queued) => transact("readwrite", (s) => s.put(item));
export const remove = (key: string) => transact("readwrite", (s) => s.delete(key));
export const all = async (): Promise<Queued[]> =>
  (await transact<Queued[]>("readonly", (s) => s.getAll())).sort((a, b) => a.created - b.created);

let flushing: Promise<number> | null = null;

/** Send what waits, oldest first; stops at the first failure. Resolves to how many are left. */
export function flush(send: (body: string) => Promise<Response>): Promise<number> {
  if (!flushing) {
    const run = async () => {
      const items = await all();
      for (const [index, item] of items.entries()) {
        let response: Response;
        try {
          response = await send(item.body);
        } catch {
          return items.length - index; // still away
        }
        if (response.status === 201 || (response.status >= 400 && response.status < 500 && response.status !== 429)) {
          // Stored, or refused for good (sending it again would not change that).
          await remove(item.key);
        } else {
          return items.length - index;
        }
      }
      return 0;
    };
    // Web Locks keep two tabs of the page from sending the same item at once.
    const locked = navigator.locks ? navigator.locks.request("digitrec-outbox", run) : run();
    flushing = locked.finally(() => {
      flushing = null;
    });
  }
  return flushing;
}
