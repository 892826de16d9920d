/**
 * @peculiar/x509 loads tsyringe, which refuses to start without the Reflect metadata API (normally the
 * `reflect-metadata` package, not a dependency here). x509 only registers and resolves classes without constructor
 * parameters, so a minimal metadata store is enough. Installed only if nothing provided the API already.
 */
type Meta = Map<unknown, unknown>;
const store = new WeakMap<object, Map<string | symbol | undefined, Meta>>();

function table(target: object, prop: string | symbol | undefined, create: boolean): Meta | undefined {
  let byProp = store.get(target);
  if (!byProp) {
    if (!create) return undefined;
    byProp = new Map();
    store.set(target, byProp);
  }
  let m = byProp.get(prop);
  if (!m && create) {
    m = new Map();
    byProp.set(prop, m);
  }
  return m;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  const getOwn = (key: unknown, target: object, prop?: string | symbol) => table(target, prop, false)?.get(key);
  const get = (key: unknown, target: object, prop?: string | symbol): unknown => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const m = table(t, prop, false);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  };
  R.defineMetadata = (key: unknown, value: unknown, target: object, prop?: string | symbol) => {
    table(target, prop, true)!.set(key, value);
  };
  R.getOwnMetadata = getOwn;
  R.getMetadata = get;
  R.hasOwnMetadata = (key: unknown, target: object, prop?: string | symbol) =>
    table(target, prop, false)?.has(key) ?? false;
  R.hasMetadata = (key: unknown, target: object, prop?: string | symbol) => get(key, target, prop) !== undefined;
  R.metadata = (key: unknown, value: unknown) => (target: object, prop?: string | symbol) => {
    table(target, prop, true)!.set(key, value);
  };
}
