/**
 * How the claims of a verified OIDC token become a certificate identity, per issuer type: the SAN, the string the
 * proof of possession signs (Fulcio's challenge claim), the issuer the certificate names and the identity extensions
 * by name (CERTIFICATE_EXTENSIONS in ./x509.ts). The CA (src/server/ca) issues exactly this; a client may call it to
 * show, before signing, what a verifier will see. Pure: no I/O and no token checks (the caller has verified the
 * signature, issuer, audience and times).
 *
 * Types Fulcio has follow its mapping value for value (sigstore/fulcio pkg/identity/*, and the ci-issuer-metadata
 * templates of config/identity/config.yaml, whose claims are all required except those with a default); aws-iam,
 * azure-pipelines and entra are vouch's own. docs/identities.md is the table of all of them.
 *
 * Every value that reaches the certificate is checked here: no control or line-separator characters anywhere (a
 * newline in a claim must not forge a line in a text dump of the certificate), SANs printable ASCII without commas
 * (a comma must not forge a second name in the comma-joined SAN text that OpenSSL and Node print), well-formed UTF-8.
 */
import { VouchError } from '../errors.ts';
import { canonicalJson } from './json.ts';
import { CERTIFICATE_EXTENSIONS, type ExtensionName } from './x509.ts';

export const ISSUER_TYPES = [
  'email',
  'github-workflow',
  'gitlab-pipeline',
  'buildkite-job',
  'circleci-job',
  'kubernetes',
  'spiffe',
  'uri',
  'username',
  'aws-iam',
  'azure-pipelines',
  'entra',
] as const;

export type IssuerType = (typeof ISSUER_TYPES)[number];

/** The per-issuer settings that change the mapping (Fulcio's OIDCIssuer fields of the same names). */
export interface IdentityRules {
  type: IssuerType;
  /** uri: scheme and host the subject must have (`https://example.com`); username: the domain after `!`. */
  subjectDomain?: string;
  /** spiffe: the trust domain every SPIFFE ID must be in. */
  spiffeTrustDomain?: string;
  /** email: accept tokens without `email_verified` (IdPs such as Entra that omit it). */
  skipEmailVerification?: boolean;
  /** email: where the certificate's issuer is read from instead of `iss`, as `$.a.b` (Fulcio's issuer-claim). */
  issuerClaim?: string;
  /** The claim the proof of possession signs, when not the type's own. */
  challengeClaim?: string;
  /** github-workflow, gitlab-pipeline, buildkite-job, azure-pipelines: the platform URL the URIs start with. */
  baseUrl?: string;
}

export type SubjectAltName = { type: 'email' | 'uri' | 'username'; value: string };

export interface CertificateIdentity {
  san: SubjectAltName;
  /** What the proof of possession must sign. */
  challenge: string;
  /** The issuer the certificate names (extensions .1.1 and .1.8). */
  issuer: string;
  /** Identity extensions in table order, empty ones left out (as Fulcio does). */
  extensions: { name: ExtensionName; value: string }[];
}

/** The claim the proof of possession signs: `email` for email identities, `sub` for every other (Fulcio). */
export function challengeClaimOf(rules: Pick<IdentityRules, 'type' | 'challengeClaim'>): string {
  return rules.challengeClaim ?? (rules.type === 'email' ? 'email' : 'sub');
}

/** The platform URL a type's URIs start with, unless configured: the public service's (Fulcio's defaults). */
export function defaultBaseUrl(type: IssuerType, issuer: string): string | undefined {
  switch (type) {
    case 'github-workflow':
      return 'https://github.com';
    // A self-managed GitLab's issuer is its own URL, and gitlab.com's is https://gitlab.com, Fulcio's fixed value.
    case 'gitlab-pipeline':
      return issuer.replace(/\/+$/, '');
    case 'buildkite-job':
      return 'https://buildkite.com';
    case 'azure-pipelines':
      return 'https://dev.azure.com';
    default:
      return undefined;
  }
}

/** Issuer types guessed from well-known issuer URLs, for issuers given without a type (`vouch serve --issuer`). */
const WELL_KNOWN: Record<string, IssuerType> = {
  'https://token.actions.githubusercontent.com': 'github-workflow',
  'https://gitlab.com': 'gitlab-pipeline',
  'https://agent.buildkite.com': 'buildkite-job',
  'https://oidc.circleci.com': 'circleci-job',
};

export function guessIssuerType(issuer: string): IssuerType {
  return WELL_KNOWN[issuer] ?? 'email';
}

/**
 * Fulcio's meta-issuer matching (pkg/config/config.go MetaRegex, anchored since GHSA-59jp-pj84-45mr): the pattern is
 * literal but for each `*`, which matches one or more of [-_a-zA-Z0-9] — never `.` or `/`, so a wildcard cannot
 * stretch over a host label or path segment, and the whole URL must match, not a prefix.
 */
export function wildcardRegExp(pattern: string): RegExp {
  const parts = pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(`^${parts.join('[-_a-zA-Z0-9]+')}$`);
}

const MAX_VALUE = 4096;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// In a `u` regular expression a surrogate pair is one code point, so \p{Cs} matches only a lone surrogate.
const LONE_SURROGATE = /\p{Cs}/u;
const SAN_ASCII = /^[\x21-\x7e]+$/;
const EMAIL =
  /^[^@\s,]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/;
const AWS_ARN = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):[\x21-\x7e]+$/;

function rejected(reason: string): VouchError {
  return new VouchError('TOKEN_INVALID', `identity token rejected: ${reason}`);
}

/** A value bound for the certificate: bounded, well-formed, no control characters. */
function text(what: string, v: string): string {
  if (v.length > MAX_VALUE) throw rejected(`${what} is longer than ${MAX_VALUE} characters`);
  if (LONE_SURROGATE.test(v)) throw rejected(`${what} is not well-formed Unicode`);
  if (CONTROL.test(v)) throw rejected(`${what} contains a control or line-break character`);
  return v;
}

/**
 * A claim as text: strings as they are, numbers and booleans as Fulcio stringifies them (integral numbers without a
 * fraction); absent, null or empty is undefined; objects and arrays are refused (they have no one text form).
 */
function claimText(claims: Record<string, unknown>, name: string): string | undefined {
  const v = claims[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return text(`claim ${name}`, v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw rejected(`claim ${name} is not a string`);
}

function need(claims: Record<string, unknown>, name: string): string {
  const v = claimText(claims, name);
  if (v === undefined) throw rejected(`claim ${name} is missing`);
  return v;
}

function nested(claims: Record<string, unknown>, name: string): Record<string, unknown> {
  const v = claims[name];
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw rejected(`claim ${name} is not an object`);
  return v as Record<string, unknown>;
}

function sanCheck(san: SubjectAltName): SubjectAltName {
  const v = text(`the ${san.type} identity`, san.value);
  if (v.includes(',')) throw rejected(`the ${san.type} identity contains a comma`);
  if (san.type === 'username') return san;
  if (!SAN_ASCII.test(v)) throw rejected(`the ${san.type} identity is not printable ASCII without spaces`);
  if (san.type === 'email' ? !EMAIL.test(v) : !URL.canParse(v)) {
    throw rejected(`the ${san.type} identity ${JSON.stringify(v.slice(0, 200))} is not a valid ${san.type}`);
  }
  return san;
}

/** Fulcio's email_verified: true, or the strings "true" / "True" (pkg/oauthflow stringAsBool). */
function emailVerified(v: unknown): boolean {
  return v === true || v === 'true' || v === 'True';
}

/** A `$.a.b` path (the subset of JSONPath that issuer-claim needs), or undefined when it is not one. */
export function parseClaimPath(path: string): string[] | undefined {
  const m = /^\$((?:\.[A-Za-z0-9_-]+)+)$/.exec(path);
  return m ? m[1]!.slice(1).split('.') : undefined;
}

function claimAtPath(claims: Record<string, unknown>, path: string): string {
  const keys = parseClaimPath(path);
  if (!keys) throw rejected(`issuer claim path ${path} is not of the form $.a.b`);
  let v: unknown = claims;
  for (const k of keys) v = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as never)[k] : undefined;
  if (typeof v !== 'string' || v === '') throw rejected(`claim ${path} is missing`);
  return text(`claim ${path}`, v);
}

/** An email-shaped token subject is refused where the identity must not be an email (Fulcio uri, username). */
function notEmail(sub: string, type: string): void {
  if (EMAIL.test(sub)) throw rejected(`a ${type} identity must not be an email address`);
}

/** RFC 3986 hostname and scheme of a URI, or undefined. */
function urlParts(v: string): { scheme: string; host: string } | undefined {
  if (!URL.canParse(v)) return undefined;
  const u = new URL(v);
  return { scheme: u.protocol.slice(0, -1), host: u.hostname };
}

/**
 * SPIFFE ID (SPIFFE-ID standard §2): `spiffe://` trust domain of [a-z0-9._-], path segments of [A-Za-z0-9._-],
 * none empty, `.` or `..`; no query, fragment, port or user info.
 */
const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)*)$/;

function spiffeTrustDomain(id: string): string | undefined {
  const m = SPIFFE_ID.exec(id);
  if (!m || id.length > 2048) return undefined;
  if (m[2]!.split('/').some((s) => s === '.' || s === '..')) return undefined;
  return m[1];
}

class Builder {
  readonly extensions: { name: ExtensionName; value: string }[] = [];
  add(name: ExtensionName, value: string | undefined): void {
    if (value !== undefined && value !== '') this.extensions.push({ name, value: text(`extension ${name}`, value) });
  }
}

/** Map verified claims to the certificate identity for an issuer of `rules.type`; TOKEN_INVALID when they do not fit. */
export function mapIdentity(
  tokenIssuer: string,
  claims: Record<string, unknown>,
  rules: IdentityRules,
): CertificateIdentity {
  const b = new Builder();
  const sub = claimText(claims, 'sub');
  let issuer = tokenIssuer;
  const base = rules.baseUrl ?? defaultBaseUrl(rules.type, tokenIssuer);
  let san: SubjectAltName;
  switch (rules.type) {
    case 'email': {
      const email = need(claims, 'email');
      // An unverified address is a claim anyone can make about any mailbox.
      if (!rules.skipEmailVerification && !emailVerified(claims.email_verified)) throw rejected('email not verified');
      if (rules.issuerClaim !== undefined) issuer = claimAtPath(claims, rules.issuerClaim);
      san = { type: 'email', value: email };
      break;
    }
    case 'github-workflow': {
      // Fulcio config.yaml ci-issuer-metadata github-workflow; every claim but `environment` is required.
      const c = (n: string) => need(claims, n);
      b.add('githubWorkflowTrigger', c('event_name'));
      b.add('githubWorkflowSha', c('sha'));
      b.add('githubWorkflowName', c('workflow'));
      b.add('githubWorkflowRepository', c('repository'));
      b.add('githubWorkflowRef', c('ref'));
      b.add('buildSignerURI', `${base}/${c('job_workflow_ref')}`);
      b.add('buildSignerDigest', c('job_workflow_sha'));
      b.add('runnerEnvironment', c('runner_environment'));
      b.add('sourceRepositoryURI', `${base}/${c('repository')}`);
      b.add('sourceRepositoryDigest', c('sha'));
      b.add('sourceRepositoryRef', c('ref'));
      b.add('sourceRepositoryIdentifier', c('repository_id'));
      b.add('sourceRepositoryOwnerURI', `${base}/${c('repository_owner')}`);
      b.add('sourceRepositoryOwnerIdentifier', c('repository_owner_id'));
      b.add('buildConfigURI', `${base}/${c('workflow_ref')}`);
      b.add('buildConfigDigest', c('workflow_sha'));
      b.add('buildTrigger', c('event_name'));
      b.add('runInvocationURI', `${base}/${c('repository')}/actions/runs/${c('run_id')}/attempts/${c('run_attempt')}`);
      b.add('sourceRepositoryVisibilityAtSigning', c('repository_visibility'));
      b.add('deploymentEnvironment', claimText(claims, 'environment'));
      san = { type: 'uri', value: `${base}/${c('job_workflow_ref')}` };
      break;
    }
    case 'gitlab-pipeline': {
      // Fulcio config.yaml ci-issuer-metadata gitlab-pipeline.
      const c = (n: string) => need(claims, n);
      const configUri = `https://${c('ci_config_ref_uri')}`;
      b.add('buildSignerURI', configUri);
      b.add('buildSignerDigest', c('ci_config_sha'));
      b.add('runnerEnvironment', c('runner_environment'));
      b.add('sourceRepositoryURI', `${base}/${c('project_path')}`);
      b.add('sourceRepositoryDigest', c('sha'));
      b.add('sourceRepositoryRef', `refs/${c('ref_type') === 'branch' ? 'heads/' : 'tags/'}${c('ref')}`);
      b.add('sourceRepositoryIdentifier', c('project_id'));
      b.add('sourceRepositoryOwnerURI', `${base}/${c('namespace_path')}`);
      b.add('sourceRepositoryOwnerIdentifier', c('namespace_id'));
      b.add('buildConfigURI', configUri);
      b.add('buildConfigDigest', c('ci_config_sha'));
      b.add('buildTrigger', c('pipeline_source'));
      b.add('runInvocationURI', `${base}/${c('project_path')}/-/jobs/${c('job_id')}`);
      b.add('sourceRepositoryVisibilityAtSigning', c('project_visibility'));
      b.add('deploymentEnvironment', claimText(claims, 'environment'));
      san = { type: 'uri', value: configUri };
      break;
    }
    case 'buildkite-job': {
      // Fulcio config.yaml ci-issuer-metadata buildkite-job.
      const c = (n: string) => need(claims, n);
      const pipeline = `${base}/${c('organization_slug')}/${c('pipeline_slug')}`;
      b.add('runnerEnvironment', c('runner_environment'));
      b.add('sourceRepositoryDigest', c('build_commit'));
      b.add('buildTrigger', c('build_source'));
      b.add('runInvocationURI', `${pipeline}/builds/${c('build_number')}#${c('job_id')}`);
      san = { type: 'uri', value: pipeline };
      break;
    }
    case 'circleci-job': {
      // Fulcio config.yaml ci-issuer-metadata circleci-job, its defaults included: platform_url ends with a slash,
      // so the run URI has two; a job that is no SSH rerun gets the two characters `""` as runner environment.
      // Fulcio reads these claims with `index`, which renders a missing one as empty; the ids in the URIs are
      // required here instead, so no certificate names a pipeline with a hole in its path.
      const c = (n: string) => need(claims, `oidc.circleci.com/${n}`);
      const o = (n: string) => claimText(claims, `oidc.circleci.com/${n}`);
      const api = 'https://circleci.com/api/v2';
      const signer = `${api}/projects/${c('project-id')}/pipeline-definitions/${c('pipeline-definition-id')}`;
      b.add('buildSignerURI', signer);
      b.add('runnerEnvironment', o('ssh-rerun') === 'true' ? 'ssh-rerun' : '""');
      b.add('sourceRepositoryURI', o('vcs-origin'));
      b.add('sourceRepositoryRef', o('vcs-ref'));
      b.add('buildConfigURI', `${api}/pipeline/${c('pipeline-id')}/config`);
      b.add('runInvocationURI', `https://app.circleci.com//workflow/${c('workflow-id')}/job/${c('job-id')}`);
      san = { type: 'uri', value: signer };
      break;
    }
    case 'kubernetes': {
      // Fulcio pkg/identity/kubernetes: the SAN names namespace and service account, not the cluster; only the
      // issuer tells two clusters apart. Fulcio accepts empty names; an empty one is refused here.
      const k = nested(claims, 'kubernetes.io');
      const ns = claimText(k, 'namespace');
      const sa = claimText(nested(k, 'serviceaccount'), 'name');
      if (ns === undefined || sa === undefined)
        throw rejected('claim kubernetes.io namespace or serviceaccount.name is missing');
      if (ns.includes('/') || sa.includes('/')) throw rejected('a Kubernetes name contains a slash');
      san = { type: 'uri', value: `https://kubernetes.io/namespaces/${ns}/serviceaccounts/${sa}` };
      break;
    }
    case 'spiffe': {
      const id = need(claims, 'sub');
      const domain = spiffeTrustDomain(id);
      if (domain === undefined) throw rejected('sub is not a SPIFFE ID');
      if (domain !== rules.spiffeTrustDomain) throw rejected(`SPIFFE trust domain ${domain} is not the one configured`);
      san = { type: 'uri', value: id };
      break;
    }
    case 'uri': {
      const id = need(claims, 'sub');
      notEmail(id, 'uri');
      const got = urlParts(id);
      const want = rules.subjectDomain === undefined ? undefined : urlParts(rules.subjectDomain);
      if (!got) throw rejected('sub is not a URI');
      if (!want || got.scheme !== want.scheme)
        throw rejected(`the subject's URI scheme ${got.scheme} is not the configured one`);
      if (got.host !== want.host) throw rejected(`the subject's host ${got.host} is not the configured subject domain`);
      san = { type: 'uri', value: id };
      break;
    }
    case 'username': {
      const name = need(claims, 'sub');
      if (name.includes('!')) throw rejected('a username must not contain "!"');
      notEmail(name, 'username');
      if (!rules.subjectDomain) throw rejected('no subject domain is configured for this username issuer');
      san = { type: 'username', value: `${name}!${rules.subjectDomain}` };
      break;
    }
    case 'aws-iam': {
      // IAM outbound identity federation (STS GetWebIdentityToken): `sub` is the principal's ARN; AWS's own claims sit
      // under one namespace key, which must agree with the ARN's account.
      const arn = need(claims, 'sub');
      const m = AWS_ARN.exec(arn);
      if (!m) throw rejected('sub is not an AWS IAM or STS principal ARN');
      const aws = nested(claims, 'https://sts.amazonaws.com/');
      const account = claimText(aws, 'aws_account');
      if (account !== undefined && account !== m[1])
        throw rejected('aws_account is not the account of the principal ARN');
      b.add('awsAccount', m[1]);
      b.add('awsOrganizationId', claimText(aws, 'org_id'));
      b.add('awsOrganizationalUnitPath', jsonOrText(aws, 'ou_path'));
      b.add('awsPrincipalTags', jsonOrText(aws, 'principal_tags'));
      san = { type: 'uri', value: arn };
      break;
    }
    case 'azure-pipelines': {
      // `sub` is p://ORGANIZATION/PROJECT/PIPELINE (names); the SAN is the pipeline definition's page, by its id.
      const m = /^p:\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(need(claims, 'sub'));
      if (!m) throw rejected('sub is not an Azure Pipelines subject (p://organization/project/pipeline)');
      const project = `${base}/${encodeURIComponent(m[1]!)}/${encodeURIComponent(m[2]!)}`;
      const definition = need(claims, 'def_id');
      const run = need(claims, 'run_id');
      if (!/^\d+$/.test(definition) || !/^\d+$/.test(run)) throw rejected('def_id and run_id must be numbers');
      const pipeline = `${project}/_build?definitionId=${definition}`;
      b.add('buildSignerURI', pipeline);
      b.add('sourceRepositoryURI', claimText(claims, 'rpo_uri'));
      b.add('sourceRepositoryDigest', claimText(claims, 'rpo_ver'));
      b.add('sourceRepositoryRef', claimText(claims, 'rpo_ref'));
      b.add('sourceRepositoryIdentifier', claimText(claims, 'rpo_id'));
      b.add('runInvocationURI', `${project}/_build/results?buildId=${run}`);
      b.add('azureDevOpsOrganizationId', need(claims, 'org_id'));
      b.add('azureDevOpsProjectId', need(claims, 'prj_id'));
      b.add('azureDevOpsPipelineId', definition);
      san = { type: 'uri', value: pipeline };
      break;
    }
    case 'entra': {
      const tid = need(claims, 'tid');
      const oid = need(claims, 'oid');
      // The tenant the issuer URL names must be the token's: one tenant's configuration never certifies another's.
      if (!URL.canParse(tokenIssuer) || !new URL(tokenIssuer).pathname.split('/').includes(tid)) {
        throw rejected('claim tid is not the tenant of the issuer');
      }
      const app = claimText(claims, 'appid') ?? claimText(claims, 'azp');
      const mirid = claimText(claims, 'xms_mirid');
      const user =
        claims.idtyp !== 'app' ? (claimText(claims, 'upn') ?? claimText(claims, 'preferred_username')) : undefined;
      if (user !== undefined) san = { type: 'email', value: user };
      else if (mirid !== undefined) {
        if (!/^\/subscriptions\/[\x21-\x7e]+$/i.test(mirid))
          throw rejected('claim xms_mirid is not an Azure resource id');
        san = { type: 'uri', value: `https://management.azure.com${mirid}` };
      } else if (app !== undefined) {
        san = {
          type: 'uri',
          value: `https://login.microsoftonline.com/${tid}/applications/${encodeURIComponent(app)}`,
        };
      } else throw rejected('the token names no user (upn, preferred_username), managed identity or application');
      b.add('entraTenantId', tid);
      b.add('entraObjectId', oid);
      b.add('entraApplicationId', app);
      break;
    }
  }
  b.add('subject', sub);
  if (issuer === '') throw rejected('the issuer is empty');
  const challengeClaim = challengeClaimOf(rules);
  b.add('issuerV1', issuer);
  b.add('issuer', issuer);
  // Fulcio renders the extensions in OID order (pkg/certificate/extensions.go Render); so does this table.
  b.extensions.sort((x, y) => ORDER.get(x.name)! - ORDER.get(y.name)!);
  return { san: sanCheck(san), challenge: need(claims, challengeClaim), issuer, extensions: b.extensions };
}

const ORDER = new Map<string, number>(CERTIFICATE_EXTENSIONS.map((e, i) => [e.name, i]));

/** A nested AWS claim that may be text or structured: structured values as RFC 8785 canonical JSON. */
function jsonOrText(o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name];
  if (v !== null && typeof v === 'object') {
    if (Object.keys(v).length === 0) return undefined;
    return canonicalJson(v);
  }
  return claimText(o, name);
}
