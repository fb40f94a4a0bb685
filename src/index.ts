/**
 * ocikit's public library API, chosen by name: what library users may rely
 * on, and what the CLI (which imports nothing else) needs. Internals stay in
 * their modules; a new export here is a promise to keep it.
 */
export { fromFsError, isOcikitError, NotFoundError, OcikitError, UsageError, type ErrorCode } from './errors.js';
export { isValidDigest, parseDigest } from './digest/digest.js';
export { applyNames, entryName, parseNameRef, type NameEdit } from './spec/index-entries.js';
export { Annotation, isIndexMediaType, MediaType } from './spec/media-types.js';
export { MAX_NESTING_DEPTH } from './spec/nesting.js';
export { parsePlatform } from './spec/platform.js';
export { type Descriptor, type ImageIndex, type ImageManifest, type OciLayoutFile, type Platform } from './spec/types.js';
export { checkDescriptor, checkImageConfig, checkManifestDocument, InvalidDocumentError, parseManifestBytes, type Problem } from './spec/validate.js';
export { isValidRegistryHost, isValidTag, layoutName, parseReference, type ParseReferenceOptions, type Reference } from './reference.js';
export { streamToFileAtomic, type AtomicWriteOptions } from './fs/atomic.js';
export { checkOutputFile, outputFileError, writeOutputFile } from './fs/output-file.js';
export { removeTrackedTempFiles } from './fs/temp-files.js';
export { SPOOL_LIMIT_ENV } from './archive/spool.js';
export { parseByteSize } from './util/byte-size.js';
export { fetchDocument, fetchDocumentOrEmbedded, fetchManifest, fetchManifestOrEmbedded, MAX_DOCUMENT_SIZE, readAll } from './graph/content.js';
export { copyGraph, type CopyEvent, type CopyOptions, type CopyResult } from './graph/copy.js';
export { successors } from './graph/successors.js';
export { abilities, holdsLease, isLayoutTarget, keepsIndex, readsIndex, readsRanges, receivesUploads, retains, type Fetcher, type IndexKeeper, type IndexReader, type LayoutReadTarget, type Leased, type ReadTarget, type ReferrersFilter, type WriteTarget } from './graph/target.js';
export { type DeleteBlobOptions, type Editor } from './graph/editor.js';
export { type RegistryOptions } from './registry/client.js';
export { DEFAULT_LISTING_LIMITS, type ListingLimits } from './registry/listing.js';
export { DEFAULT_TIMEOUT_MS, isLoopbackHost, type TransportOptions } from './registry/http.js';
export { DockerArchive } from './targets/docker-archive.js';
export { LayoutArchive, type LayoutArchiveOptions } from './targets/layout-archive.js';
export { LayoutDir } from './targets/layout-dir.js';
export { MemoryTarget, type MemoryEvent } from './targets/memory.js';
export { openEditor, openLayoutDir, openReadTarget, openWriteTarget, resolveReference, type OpenOptions, type ResolveOptions } from './targets/open.js';
export { RegistryTarget, type RegistryTargetOptions } from './targets/registry.js';
export { writeArchiveFile, type ArchiveMergeResult } from './ops/archive-merge.js';
export { attach, parseAnnotationFile, type AttachFile, type AttachOptions, type AttachResult } from './ops/attach.js';
export { collectArtifactFiles, type FileArgument } from './ops/artifact-files.js';
export { pullArtifactFiles, type ArtifactPullOptions, type ArtifactPullResult, type PulledFile } from './ops/artifact-pull.js';
export { copyReference, openWholeSource, type CopyReferenceOptions, type CopyReferenceResult } from './ops/copy.js';
export { discover, flattenTree, referrersIndex, renderTree, type DiscoverOptions } from './ops/discover.js';
export { entryClosures, gc, liveContent, type GcResult } from './ops/gc.js';
export { buildIndex, type CreateIndexOptions } from './ops/index-create.js';
export { listEntries, type EntryRow } from './ops/list-entries.js';
export { pushManifest, type ManifestStore, type PushManifestOptions } from './ops/manifest-push.js';
export { pack, type ArchiveResult, type PackOptions, type WriteArchiveOptions } from './ops/pack.js';
export { pullImages, type PullOptions, type PullResult } from './ops/pull-images.js';
export { pushLayout, type PushLayoutOptions, type PushLayoutResult } from './ops/push-layout.js';
export { summaryLine, type TransferStats } from './ops/transfer-stats.js';
export { unpack, type UnpackOptions, type UnpackResult } from './ops/unpack.js';
export { diffTargets, renderDiffText, type DiffReport } from './audit/diff.js';
export { FindingCode, type Finding, type Severity } from './audit/findings.js';
export { formatBytes } from './audit/format.js';
export { renderInspectHtml, writeInspectHtml } from './audit/html.js';
export { inspectTextLines, renderInspectText } from './audit/inspect-text.js';
export { compactVerification, verifyForInspection, inspectJson, inspectTarget, openInspection, type InspectOptions, type InspectReport, type InspectSummary } from './audit/inspect.js';
export { renderVerifyText, VerificationFailedError, verifyTarget, verifyTextLines, type BlobRecord, type VerifyOptions, type VerifyReport, type VerifySummary } from './audit/verify.js';
export { defaultRepositoryName } from './server/repositories.js';
export { parseListenAddress, startServer, type RequestEvent, type RunningServer, type ServeOptions } from './server/server.js';
export { batched, jsonChunks } from './util/json-chunks.js';
