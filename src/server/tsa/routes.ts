/** RFC 3161 over HTTP (RFC 3161 §3.4) in Sigstore timestamp-authority's paths. */

import { VouchError } from '../../errors.ts';
import { jsonBody, type Route } from '../routes.ts';
import { parseDerRequest, parseJsonRequest, type TimestampAuthority } from './tsa.ts';

const MAX_QUERY = 16 * 1024;

export function tsaRoutes(tsa: TimestampAuthority): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/api/v1/timestamp',
      handler: (req) => {
        const ct = (req.headers['content-type'] ?? '').toLowerCase();
        if (req.body.length > MAX_QUERY)
          throw new VouchError('REQUEST_TOO_LARGE', `timestamp query larger than ${MAX_QUERY} bytes`);
        const parsed = ct.startsWith('application/json')
          ? parseJsonRequest(jsonBody(req, MAX_QUERY))
          : ct.startsWith('application/timestamp-query')
            ? parseDerRequest(req.body)
            : (() => {
                throw new VouchError(
                  'REQUEST_INVALID',
                  'Content-Type must be application/timestamp-query or application/json',
                );
              })();
        return { status: 201, headers: { 'content-type': 'application/timestamp-reply' }, body: tsa.timestamp(parsed) };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/timestamp/certchain',
      handler: () => ({
        status: 200,
        headers: { 'content-type': 'application/pem-certificate-chain' },
        body: tsa.chainPem(),
      }),
    },
  ];
}
