/**
 * The in-toto Statement layer (in-toto attestation framework, spec/v1/statement.md) as vouch signs and reads it:
 * the payload type of a DSSE envelope that carries a statement, and the statement's shape.
 */

/** DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** `_type` of the statements vouch writes. */
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** `_type` of the previous published version, still written by some signers and accepted when read. */
export const IN_TOTO_STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';

/** Predicate type of the statement vouch signs for a file when the key cannot sign a digest (Ed25519). */
export const VOUCH_FILE_PREDICATE = 'https://vouch.dev/file/v1';

/** A subject: a name and its digests by algorithm (in-toto ResourceDescriptor, the members statements use). */
export interface InTotoSubject {
  name: string;
  digest: Record<string, string>;
}

/** An in-toto Statement v1. */
export interface InTotoStatement<P = unknown> {
  _type: typeof IN_TOTO_STATEMENT_V1;
  subject: InTotoSubject[];
  predicateType: string;
  predicate?: P;
}

/** Whether `_type` is one of the two published statement types (the only ones a verifier may accept). */
export function isInTotoStatementType(type: unknown): boolean {
  return type === IN_TOTO_STATEMENT_V1 || type === IN_TOTO_STATEMENT_V01;
}
