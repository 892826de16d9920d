/**
 * One error base for the whole library. Every failure carries a stable `code` (part of the public contract:
 * tests, scripts and `--json` consumers match on it, never on the message), an optional `hint` a person can act
 * on, and the `cause` it wraps. The CLI maps the code's category to an exit status; nothing else does.
 */

/** What kind of failure a code is; decides the CLI exit status. */
export type ErrorCategory = 'verification' | 'usage' | 'service' | 'internal';

/** Exit statuses of the CLI, stable and documented in the README. */
export const EXIT = {
  ok: 0,
  verification: 1,
  usage: 2,
  service: 3,
  internal: 70,
} as const;

/**
 * Every stable error code with its category and default hint. Adding a code here is the only way to raise one,
 * so the README table and the CLI's exit mapping cannot drift from the code that raises it.
 */
export const ERROR_CODES = {
  // verification: the artifact, bundle or signer is not what the policy asks for (exit 1)
  DIGEST_MISMATCH: ['verification', 'The artifact differs from what was signed: it was modified or is another file.'],
  SIGNATURE_INVALID: ['verification', 'The signature does not verify with the expected key or certificate.'],
  KEY_MISMATCH: ['verification', 'The bundle was signed by another key than the one given.'],
  BUNDLE_MALFORMED: ['verification', 'The bundle is not a well-formed Sigstore bundle.'],
  BUNDLE_TOO_LARGE: ['verification', 'The bundle exceeds the size limit; it is not a signature vouch will parse.'],
  BUNDLE_UNSUPPORTED: ['verification', 'This bundle version or content type is not supported.'],
  CERTIFICATE_INVALID: ['verification', 'The signing certificate is malformed or not valid at the signing time.'],
  CHAIN_INVALID: ['verification', 'The certificate does not chain to a trusted certificate authority.'],
  IDENTITY_MISMATCH: ['verification', 'The bundle was signed by another identity than the one required.'],
  ISSUER_MISMATCH: ['verification', 'The identity was issued by another OIDC issuer than the one required.'],
  TLOG_INVALID: ['verification', 'The transparency log entry does not prove this signature was logged.'],
  TLOG_MISSING: ['verification', 'The bundle carries no transparency log entry the policy accepts.'],
  TIMESTAMP_INVALID: ['verification', 'A timestamp in the bundle does not verify.'],
  TIMESTAMP_MISSING: ['verification', 'No trusted time for the signature: the bundle has no verified timestamp.'],
  SCT_INVALID: ['verification', 'The certificate transparency proof of the certificate does not verify.'],
  TRUST_ROOT_MISMATCH: ['verification', 'No trusted authority matches this bundle: it comes from another instance.'],
  BUNDLE_KIND_MISMATCH: [
    'verification',
    'The bundle signs another kind of artifact (a file, a directory, an image): verify it as that kind of target.',
  ],
  TRUST_ROOT_PIN_MISMATCH: [
    'verification',
    "The trusted root is not the one pinned with --sha256: it changed, or it is not the publisher's; ask the publisher.",
  ],
  DSSE_INVALID: ['verification', 'The DSSE envelope or its statement is malformed or does not match the log entry.'],
  POLICY_INVALID: ['usage', 'The verification policy is incomplete or contradictory.'],
  POLICY_NOT_SATISFIED: [
    'verification',
    'The signatures that verified do not meet the policy: see which rule failed and why each signature does not count.',
  ],
  POLICY_DIGEST_MISMATCH: [
    'verification',
    'The policy fetched is not the one pinned by --policy-digest or the trust store: it changed, or the server is not the publisher.',
  ],
  DIRECTORY_MISMATCH: ['verification', 'The directory differs from what was signed.'],
  MANIFEST_INVALID: ['verification', 'The signed manifest is malformed or hostile.'],
  PATH_NOT_SIGNED: ['verification', 'That path is not part of the signed directory.'],
  IMAGE_MISMATCH: ['verification', 'The image content does not match its digest or descriptor.'],
  SIGNATURE_NOT_FOUND: ['verification', 'No signature was found for this artifact.'],
  IMAGE_INVALID: ['verification', 'The registry or image archive served a malformed, ambiguous or oversize manifest.'],
  REPOSITORY_MISMATCH: [
    'verification',
    'The signature was made for this digest in another repository; allow that repository in the policy if intended.',
  ],
  PE_MALFORMED: [
    'verification',
    'The PE file has inconsistent headers or certificate table; it is not signed or shipped as it is.',
  ],
  PE_SIGNATURE_PADDING: [
    'verification',
    'Data is hidden after the Authenticode signature inside its certificate entry (the 3CX trick, CVE-2013-3900); rebuild or re-sign the file, or name it with --allow-pe-anomaly if it is intended.',
  ],
  PE_OVERLAY: [
    'verification',
    'Data follows the Authenticode certificate table, outside the signature; name the file with --allow-pe-anomaly if it is intended.',
  ],
  PE_CERTIFICATE_TABLE_SIZE: [
    'verification',
    'The Authenticode certificate table holds more or fewer bytes than its entries; name the file with --allow-pe-anomaly if it is intended.',
  ],
  PE_EXTRA_CERTIFICATE: [
    'verification',
    'The certificate table holds an entry besides the Authenticode signature; name the file with --allow-pe-anomaly if it is intended.',
  ],
  AUTHENTICODE_DIGEST_MISMATCH: ['verification', 'The PE file was modified after it was Authenticode-signed.'],
  AUTHENTICODE_SIGNATURE_INVALID: ['verification', 'The Authenticode signature is malformed or does not verify.'],
  AUTHENTICODE_CHAIN_INVALID: [
    'verification',
    'The Authenticode signer does not chain to a certificate of --authenticode-roots.',
  ],
  AUTHENTICODE_TIMESTAMP_INVALID: ['verification', 'The Authenticode timestamp does not verify.'],
  // dependencies (vouch deps): one code per kind of problem a package can have (exit 1)
  PACKAGE_INTEGRITY_MISMATCH: [
    'verification',
    'The tarball differs from the lockfile integrity: it was altered at the registry or on the way, or the lockfile was edited.',
  ],
  INSTALLED_FILE_MISMATCH: [
    'verification',
    'A file in node_modules differs from the package tarball: changed after install (by a script or by hand). Reinstall from the lockfile.',
  ],
  REGISTRY_SIGNATURE_INVALID: ['verification', 'The registry signature over name@version:integrity does not verify.'],
  REGISTRY_SIGNATURE_MISSING: [
    'verification',
    'The package carries no registry signature that could be checked, and one is required.',
  ],
  REGISTRY_KEY_EXPIRED: [
    'verification',
    'The registry key of the signature had expired when the version was published.',
  ],
  REGISTRY_KEY_UNKNOWN: ['verification', 'The signature names a key the registry does not publish.'],
  ATTESTATION_INVALID: ['verification', 'An attestation bundle of the package does not verify.'],
  ATTESTATION_SUBJECT_MISMATCH: [
    'verification',
    'The attestation was made for another package, version or tarball than this one.',
  ],
  PROVENANCE_REPOSITORY_MISMATCH: [
    'verification',
    "The provenance names another source repository than the package's declared repository.",
  ],
  PROVENANCE_IDENTITY_CHANGED: [
    'verification',
    'The package is built by another publisher identity than before; if the change is intended, accept it with `vouch deps lock --update NAME`.',
  ],
  PROVENANCE_MISSING: [
    'verification',
    'The package had provenance before and this version has none: a publish from outside its CI (a stolen token?).',
  ],
  TRUST_DOWNGRADE: [
    'verification',
    'This version carries weaker publisher evidence than the lock or earlier versions of the package.',
  ],
  PROVENANCE_REQUIRED: ['verification', 'The dependency policy requires provenance for this package.'],
  BUILDER_NOT_ALLOWED: ['verification', 'The package was built by a builder the dependency policy does not allow.'],
  SOURCE_REF_NOT_ALLOWED: [
    'verification',
    'The package was built from a source ref the dependency policy does not allow (tags only?).',
  ],
  BUILD_TRIGGER_NOT_ALLOWED: [
    'verification',
    'The package was built by a workflow trigger the dependency policy forbids (pull_request_target?).',
  ],
  RELEASE_TOO_RECENT: [
    'verification',
    'The version was published more recently than the policy minimum release age: wait, or pin an older version.',
  ],
  // usage and local input (exit 2)
  USAGE: ['usage', 'See `vouch --help`.'],
  TARGET_INVALID: ['usage', 'Targets look like file:PATH, dir:PATH, oci:REF, a bare path, or sha256:HEX.'],
  TARGET_UNSUPPORTED: ['usage', 'This kind of target is not supported yet.'],
  FILE_NOT_FOUND: ['usage', 'Check the path.'],
  FILE_UNREADABLE: ['usage', 'Check the file permissions.'],
  FILE_EXISTS: ['usage', 'Pass --force to overwrite it.'],
  KEY_INVALID: ['usage', 'The key file is not a key vouch can use.'],
  PASSPHRASE_INVALID: ['usage', 'Give the passphrase that decrypts the key: VOUCH_PASSWORD, or type it at the prompt.'],
  TRUST_ROOT_INVALID: ['usage', 'The trusted root file is not a valid Sigstore trusted root.'],
  TRUST_ROOT_PIN_MISSING: [
    'usage',
    'A fetched trusted root must be pinned: pass --sha256 HEX with the SHA-256 the publisher gives (`sha256sum trusted_root.json`), or run at a terminal to confirm it.',
  ],
  CONFIG_INVALID: ['usage', 'The configuration is invalid.'],
  TOKEN_INVALID: ['usage', 'The identity token is missing, malformed or expired.'],
  REQUEST_INVALID: ['usage', 'The request to the server is malformed (server side: answered with HTTP 400).'],
  REQUEST_TOO_LARGE: ['usage', 'The request body exceeds the server limit (HTTP 413).'],
  PROOF_OF_POSSESSION_INVALID: [
    'usage',
    'The signature over the token subject does not verify with the submitted key.',
  ],
  ENTRY_NOT_FOUND: ['usage', 'No such transparency log entry (HTTP 404).'],
  LOCKFILE_INVALID: [
    'usage',
    'The lockfile (or vouch-deps.lock.json) is malformed, hostile or of an unsupported version.',
  ],
  DIRECTORY_UNSUPPORTED: [
    'usage',
    'The directory holds something vouch will not sign (FIFO, device, socket, setuid/setgid file, a name that is not NFC UTF-8 or collides by case, a symlink leading outside it), exceeds the limits, or changed while it was read.',
  ],
  DEPENDENCY_MISSING: ['usage', 'An optional package this feature needs is not installed; install it beside vouch.'],
  LOG_KEY_MISMATCH: [
    'usage',
    'This log was created with another signing key: start it with its own data folder (keys/tlog.key), or give a new log another --postgres database or --data folder.',
  ],
  // services (exit 3)
  SERVICE_UNAVAILABLE: ['service', 'A service could not be reached; try again later.'],
  SERVICE_ERROR: ['service', 'A service answered with an error.'],
  ENTRY_EXISTS: ['service', 'The transparency log already holds this entry (HTTP 409); fetch the existing one.'],
  // internal (exit 70)
  INTERNAL: ['internal', 'This is a bug in vouch; please report it.'],
} as const satisfies Record<string, readonly [ErrorCategory, string]>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface VouchErrorOptions {
  cause?: unknown;
  hint?: string;
  /** Structured details for `--json` (e.g. the list of differences of a directory). */
  details?: unknown;
}

export class VouchError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: VouchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VouchError';
    this.code = code;
    this.hint = options.hint ?? ERROR_CODES[code][1];
    this.details = options.details;
  }

  get category(): ErrorCategory {
    return ERROR_CODES[this.code][0];
  }

  get exitStatus(): number {
    return EXIT[this.category];
  }

  toJSON(): { code: ErrorCode; message: string; hint: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message, hint: this.hint }
      : { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

export function isVouchError(e: unknown, code?: ErrorCode): e is VouchError {
  return e instanceof VouchError && (code === undefined || e.code === code);
}

/** Raise `code` unless `condition` holds. Keeps the many checks of a verifier to one line each. */
export function ensure(
  condition: unknown,
  code: ErrorCode,
  message: string,
  options?: VouchErrorOptions,
): asserts condition {
  if (!condition) throw new VouchError(code, message, options);
}
