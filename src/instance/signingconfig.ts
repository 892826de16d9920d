/**
 * Choosing services from a Sigstore signing config (protobuf-specs SigningConfig v0.2): for each role (CA, log, TSA,
 * OIDC) keep the services whose API version this client speaks and whose validity window contains now, and take the
 * one that started most recently (the spec's order of preference for the ANY selector).
 */
import { asArray, asObject, asString } from '../core/json.ts';
import { SIGNING_CONFIG_MEDIA_TYPE } from '../core/trustroot.ts';
import { VouchError } from '../errors.ts';

export interface ServiceUrls {
  /** Fulcio v2 API base URL. */
  ca: string;
  /** Rekor base URL and its major API version (1: /api/v1/log/entries). */
  tlog: string;
  tlogApiVersion: number;
  /** Full TSA URL (RFC 3161 over HTTP), when the instance has one. */
  tsa?: string;
  /** OIDC issuer URL, when the config names one. */
  oidc?: string;
}

// The highest major API version of each service this client speaks (Fulcio's service version 1 serves /api/v2).
const MAX_VERSION = { caUrls: 1, rekorTlogUrls: 1, tsaUrls: 1, oidcUrls: 1 } as const;

export function selectServices(signingConfig: unknown, now: Date = new Date()): ServiceUrls {
  const c = asObject(signingConfig, 'signing config', 'CONFIG_INVALID');
  if (c.mediaType !== SIGNING_CONFIG_MEDIA_TYPE) {
    throw new VouchError('CONFIG_INVALID', `unsupported signing config media type ${String(c.mediaType)}`);
  }
  const ca = pick(c, 'caUrls', now);
  const tlog = pick(c, 'rekorTlogUrls', now);
  if (!ca) throw new VouchError('CONFIG_INVALID', 'the signing config has no usable certificate authority');
  if (!tlog) throw new VouchError('CONFIG_INVALID', 'the signing config has no usable transparency log');
  const urls: ServiceUrls = { ca: ca.url, tlog: tlog.url, tlogApiVersion: tlog.version };
  const tsa = pick(c, 'tsaUrls', now);
  if (tsa) urls.tsa = tsa.url;
  const oidc = pick(c, 'oidcUrls', now);
  if (oidc) urls.oidc = oidc.url;
  return urls;
}

function pick(c: Record<string, unknown>, role: keyof typeof MAX_VERSION, now: Date) {
  if (c[role] === undefined) return undefined;
  const candidates: { url: string; version: number; start: number }[] = [];
  for (const [i, raw] of asArray(c[role], role, 'CONFIG_INVALID').entries()) {
    const s = asObject(raw, `${role}[${i}]`, 'CONFIG_INVALID');
    const url = asString(s.url, `${role}[${i}].url`, 'CONFIG_INVALID');
    checkUrl(url, `${role}[${i}].url`);
    const version = s.majorApiVersion;
    if (typeof version !== 'number' || !Number.isInteger(version)) {
      throw new VouchError('CONFIG_INVALID', `${role}[${i}].majorApiVersion must be an integer`);
    }
    const validFor = s.validFor === undefined ? {} : asObject(s.validFor, `${role}[${i}].validFor`, 'CONFIG_INVALID');
    const start = time(validFor.start, `${role}[${i}].validFor.start`) ?? 0;
    const end = time(validFor.end, `${role}[${i}].validFor.end`);
    if (version > MAX_VERSION[role] || start > now.getTime() || (end !== undefined && end < now.getTime())) continue;
    candidates.push({ url: url.replace(/\/+$/, ''), version, start });
  }
  candidates.sort((a, b) => b.start - a.start);
  return candidates[0];
}

function time(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw new VouchError('CONFIG_INVALID', `${what} is not an RFC 3339 time`);
  return t;
}

export function checkUrl(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new VouchError('CONFIG_INVALID', `${what} is not a URL: ${url}`, { cause: e });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new VouchError('CONFIG_INVALID', `${what} must be an http(s) URL: ${url}`);
  }
  return u;
}
