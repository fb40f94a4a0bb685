/**
 * Document shapes of the image-spec (and the Docker v2 formats we read).
 * Index signatures keep unknown fields: ocikit carries what it does not
 * understand instead of dropping it.
 */

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Base64 of the content, verified against digest and size when present. */
  data?: string;
  platform?: Platform;
  artifactType?: string;
  [extra: string]: unknown;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

/** The pre-1.1 artifact manifest (read only). */
export interface LegacyArtifactManifest {
  mediaType: string;
  artifactType?: string;
  blobs?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

export type Manifest = ImageManifest | ImageIndex | LegacyArtifactManifest;

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object>;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    StopSignal?: string;
    [extra: string]: unknown;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<Record<string, unknown>>;
  [extra: string]: unknown;
}

export interface OciLayoutFile {
  imageLayoutVersion: string;
  [extra: string]: unknown;
}
