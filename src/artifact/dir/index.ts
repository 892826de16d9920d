/** Directory signing: walk + manifest + statement (sign side), parse + re-walk + compare (verify side). */

export { prestartHashWorkers } from './hash.ts';
export {
  compareManifest,
  countEntries,
  DEFAULT_RULES,
  type Difference,
  type DirEntry,
  type DirectoryRules,
  type FileEntry,
  type Manifest,
  ManifestComparer,
  type ManifestCounts,
  type ManifestEntry,
  MODEL_SIGNING_PREDICATE,
  manifestDigest,
  type SymlinkEntry,
  VOUCH_DIRECTORY_PREDICATE,
} from './manifest.ts';
export { DEFAULT_LIMITS, type DirectoryLimits } from './paths.ts';
export { type DirectoryStatementOptions, directoryStatement, type PreparedDirectory } from './prepare.ts';
export {
  buildStatement,
  type CheckedDirectory,
  type CheckedEntries,
  type DirectoryFormat,
  type DirectoryHeader,
  defaultRules,
  type EntryChecker,
  entryChecker,
  type InTotoStatement,
  parseDirectoryHeader,
  parseDirectoryStatement,
  type SignedDirectory,
  type SplitList,
} from './statement.ts';
export {
  bundlePathInTree,
  type DirectoryVerification,
  describeDifference,
  describeDirectory,
  type EntryStream,
  type FileInDirectoryVerification,
  fileInDirectoryPath,
  type PayloadDigest,
  signedPayloadMatches,
  type VerifyDirectoryOptions,
  verifyDirectoryEntries,
  verifyDirectoryStatement,
  verifyFileInCheckedDirectory,
  verifyFileInDirectory,
} from './verify.ts';
export { cachePathFor, type WalkOptions, type WalkResult, type WalkStats, walkDirectory } from './walk.ts';
