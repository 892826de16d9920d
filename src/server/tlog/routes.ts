/** Rekor v1 REST routes over a TransparencyLog (paths and JSON shapes of the public Rekor API). */
import { VouchError } from '../../errors.ts';
import { badRequest, jsonBody, type Route, type RouteRequest, type RouteResponse } from '../routes.ts';
import { MAX_ENTRY_BODY } from './entries.ts';
import type { TransparencyLog } from './log.ts';

export { MAX_ENTRY_BODY } from './entries.ts';

const MAX_RETRIEVE = 10;

function intParam(v: string | undefined, name: string, required: boolean, dflt?: number): number {
  if (v === undefined || v === '') {
    if (required) throw badRequest(`${name} is required`);
    return dflt!;
  }
  if (!/^(0|[1-9][0-9]{0,15})$/.test(v)) throw badRequest(`${name} must be a non-negative integer`);
  return Number(v);
}

export function tlogRoutes(log: TransparencyLog, prefix = ''): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/api/v1/log/entries',
      handler: async (req: RouteRequest): Promise<RouteResponse> => {
        const proposed = jsonBody(req, MAX_ENTRY_BODY);
        try {
          const { uuid, entry } = await log.add(proposed);
          return {
            status: 201,
            headers: { location: `${prefix}/api/v1/log/entries/${uuid}`, etag: uuid },
            body: { [uuid]: entry },
          };
        } catch (e) {
          // 409 carries the existing entry's location (what RekorWitness follows) and, for convenience, the entry.
          if (e instanceof VouchError && e.code === 'ENTRY_EXISTS') {
            const uuid = (e.details as { uuid: string }).uuid;
            const location = `${prefix}/api/v1/log/entries/${uuid}`;
            const existing = await log.getByUuid(uuid).catch(() => undefined);
            return {
              status: 409,
              headers: { location },
              body: {
                code: 409,
                message: e.message,
                error: 'ENTRY_EXISTS',
                ...(existing ? { existing: { [existing.uuid]: existing.entry } } : {}),
              },
            };
          }
          throw e;
        }
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/log/entries',
      handler: async (req) => {
        const index = intParam(req.query.logIndex, 'logIndex', true);
        const { uuid, entry } = await log.getByIndex(index);
        return { status: 200, body: { [uuid]: entry } };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/log/entries/:uuid',
      handler: async (_req, params) => {
        const { uuid, entry } = await log.getByUuid(params.uuid!);
        return { status: 200, body: { [uuid]: entry } };
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/log/entries/retrieve',
      handler: async (req) => {
        const q = jsonBody(req, 64 * 1024);
        const uuids = q.entryUUIDs ?? [];
        const indexes = q.logIndexes ?? [];
        if (!Array.isArray(uuids) || !Array.isArray(indexes))
          throw badRequest('entryUUIDs and logIndexes must be arrays');
        if (uuids.length + indexes.length > MAX_RETRIEVE) throw badRequest(`at most ${MAX_RETRIEVE} entries per query`);
        if (q.hash !== undefined) throw badRequest('search by artifact hash is not supported');
        const out: Record<string, unknown>[] = [];
        for (const u of uuids) {
          if (typeof u !== 'string') throw badRequest('entryUUIDs must be strings');
          try {
            const { uuid, entry } = await log.getByUuid(u);
            out.push({ [uuid]: entry });
          } catch (e) {
            if (!(e instanceof VouchError && e.code === 'ENTRY_NOT_FOUND')) throw e;
          }
        }
        for (const i of indexes) {
          if (typeof i !== 'number' || !Number.isSafeInteger(i) || i < 0)
            throw badRequest('logIndexes must be integers');
          try {
            const { uuid, entry } = await log.getByIndex(i);
            out.push({ [uuid]: entry });
          } catch (e) {
            if (!(e instanceof VouchError && e.code === 'ENTRY_NOT_FOUND')) throw e;
          }
        }
        return { status: 200, body: out };
      },
    },
    { method: 'GET', pattern: '/api/v1/log', handler: async () => ({ status: 200, body: await log.info() }) },
    {
      method: 'GET',
      pattern: '/api/v1/log/proof',
      handler: async (req) => {
        const last = intParam(req.query.lastSize, 'lastSize', true);
        const first = intParam(req.query.firstSize, 'firstSize', false, 1);
        return { status: 200, body: await log.consistency(first, last) };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/log/publicKey',
      handler: () => ({
        status: 200,
        headers: { 'content-type': 'application/x-pem-file' },
        body: `-----BEGIN PUBLIC KEY-----\n${log
          .publicKeyDer()
          .toString('base64')
          .replace(/(.{64})/g, '$1\n')
          .replace(/\n?$/, '\n')}-----END PUBLIC KEY-----\n`,
      }),
    },
  ];
}
