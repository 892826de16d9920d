/** Directory signing: walk + manifest + statement (sign side), parse + re-walk + compare (verify side). */

export { cachePathFor } from './cache.ts';
export { EntryList, type EntryTable, WalkEntries } from './entries.ts';
export {
  type FileInDirectoryVerification,
  fileInDirectoryPath,
  signedEntry,
  verifyFileAgainst,
  verifyFileInDirectory,
} from './file.ts';
export { bytesSource, EMBED_LIMIT, fileSource, type ManifestSource, parseLine, readManifest } from './lines.ts';
export {
  compareManifest,
  DEFAULT_RULES,
  type Difference,
  type DirEntry,
  type DirectoryRules,
  entryLine,
  type FileEntry,
  ManifestComparer,
  type ManifestCounts,
  type ManifestEntry,
  type SymlinkEntry,
} from './manifest.ts';
export { DEFAULT_LIMITS, type DirectoryLimits } from './paths.ts';
export { describePeCheck, type PeCheckRecord, type PeException, type PeStrictResult } from './pe.ts';
export {
  type DirectoryStatementOptions,
  directoryStatement,
  manifestPathFor,
  type PreparedDirectory,
} from './prepare.ts';
export {
  type DirectoryFormat,
  defaultRules,
  type InTotoStatement,
  MANIFEST_MEDIA_TYPE,
  MODEL_SIGNING_PREDICATE,
  type ModelSigningDirectory,
  modelSigningStatement,
  parseDirectoryStatement,
  type SignedDirectory,
  VOUCH_DIRECTORY_PREDICATE,
  type VouchDirectory,
  vouchStatement,
} from './statement.ts';
export {
  type DirectoryExclusions,
  type DirectoryVerification,
  describeDifference,
  describeDirectory,
  describeExclusions,
  type VerifyDirectoryOptions,
  verifyDirectory,
  verifyDirectoryStatement,
} from './verify.ts';
export {
  type ExcludedFound,
  type TreePe,
  type WalkOptions,
  type WalkResult,
  type WalkStats,
  walkDirectory,
} from './walk.ts';
