/**
 * The trust stack servers: what the CLI (`vouch serve`, the embedded default) and tests import. Each service is a
 * domain object plus transport-free routes; `startStack` puts them on one port behind the Fastify adapter.
 */
export { CertificateAuthority, type IssuedCertificate, identityOf, type KeyProof } from './ca/ca.ts';
export {
  type IssuerConfig,
  type IssuerType,
  type ResolvedIssuer,
  TokenVerifier,
  type VerifiedToken,
} from './ca/oidc.ts';
export { LocalIssuer } from './oidc/issuer.ts';
export { type ServeOptions, type Serving, serve } from './serve.ts';
export { type Stack, type StackOptions, type StackUrls, type StorageOptions, startStack } from './stack.ts';
export type { LogStore, StoredEntry, StoredNode } from './store/types.ts';
export { type EntryView, type InclusionProofView, type LogInfoView, TransparencyLog } from './tlog/log.ts';
export { TimestampAuthority } from './tsa/tsa.ts';
