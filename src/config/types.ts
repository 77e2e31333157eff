/**
 * The validated, typed settings every other layer uses. Produced only by the config loader
 * (src/config): nothing later in the program sees a raw INI value. Keys keep StarCluster's
 * meaning (../shared/reference/starcluster.md §2); our additions are marked.
 */

export type ProviderKind = 'ec2' | 'local';
export type SharedFs = 'nfs' | 'sshfs' | 'none';
export type ClusterShell = 'bash' | 'zsh' | 'csh' | 'ksh' | 'tcsh';

/** Where a setting came from, for messages: `FILE:LINE`. */
export interface SourceLocation {
  file: string;
  line: number;
}

export interface GlobalSettings {
  defaultTemplate?: string;
  enableExperimental: boolean;
  /**
   * REFRESH_INTERVAL (or `start -r`): the longest pause, in seconds, between two polls while waiting
   * for instances (StarCluster polled every 30 s). Absent: EC2 waits back off from 1 s to 10 s.
   */
  refreshInterval?: number;
  webBrowser?: string;
  include: string[];
}

export interface AwsSettings {
  /** Absent: the standard AWS credential chain is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  userId?: string;
  regionName?: string;
  regionHost?: string;
  /** AWS_PORT: the port of AWS_REGION_HOST. */
  port?: number;
  /** AWS_IS_SECURE (default true): https, else http, for an endpoint built from AWS_REGION_HOST. */
  isSecure?: boolean;
  /** AWS_EC2_PATH (default `/`). */
  ec2Path?: string;
  /** AWS_S3_HOST and AWS_S3_PATH (default `/`): kept for compatibility; nothing uses S3 yet. */
  s3Host?: string;
  s3Path?: string;
  /** Endpoint override (AWS_ENDPOINT_URL, or built from REGION_HOST/PORT/IS_SECURE). */
  endpoint?: string;
  proxy?: { host: string; port?: number; user?: string; pass?: string };
  ec2Cert?: string;
  ec2PrivateKey?: string;
  validateCerts: boolean;
}

export interface KeySettings {
  /** Section name: must equal the EC2 key pair's name. */
  name: string;
  /** Absolute path to the private key file (~ expanded). */
  location: string;
}

export interface VolumeSettings {
  name: string;
  volumeId: string;
  mountPath: string;
  device?: string;
  partition?: number;
}

export interface PermissionSettings {
  name: string;
  protocol: 'tcp' | 'udp' | 'icmp';
  fromPort: number;
  toPort: number;
  /** CIDR_IP; default 0.0.0.0/0 as in StarCluster, but absent when `sourceGroup` is set: a rule admits a
   * range or a group, never both (the loader rejects both written). */
  cidrIp?: string;
  /** SOURCE_GROUP: admit this security group (id or name) and nothing else. */
  sourceGroup?: string;
}

export interface PluginSettings {
  name: string;
  /** A StarCluster dotted class path, a bundled plugin name, or a .ts/.js file path. */
  setupClass: string;
  /** Every other key of the section, lower-cased, as written. */
  settings: Record<string, string>;
  location?: SourceLocation;
}

/** One `type[:ami][:count]` item of NODE_INSTANCE_TYPE. */
export interface NodeTypeSpec {
  instanceType: string;
  /** As NODE_IMAGE_ID: an AMI id, an image alias or `resolve:ssm:NAME`. */
  imageId?: string;
  count: number;
}

export interface ClusterTemplate {
  /** Section name, e.g. `smallcluster`. */
  name: string;
  extends?: string;
  provider: ProviderKind; // ours: default 'ec2'
  keyname?: string; // required for ec2
  key?: KeySettings;
  clusterSize: number;
  clusterUser: string;
  clusterShell: ClusterShell;
  dnsPrefix: boolean;
  /** An AMI id, an image alias (`debian-12`, see src/cloud/images.ts) or `resolve:ssm:NAME`. */
  masterImageId?: string;
  masterInstanceType?: string;
  nodeImageId?: string; // required for ec2
  /** The default (last) node type. */
  nodeInstanceType?: string; // required for ec2
  /** The explicit items before the default, in order. Their counts sum to ≤ clusterSize - 1. */
  nodeInstanceTypes: NodeTypeSpec[];
  availabilityZone?: string;
  volumes: VolumeSettings[];
  plugins: PluginSettings[];
  permissions: PermissionSettings[];
  spotBid?: number;
  forceSpotMaster: boolean;
  userdataScripts: string[];
  disableQueue: boolean;
  /** MASTER_IS_EXEC_HOST (StarCluster's SGE plugin setting): the master runs jobs too. Absent = True. */
  masterIsExecHost?: boolean;
  disableCloudinit: boolean;
  subnetId?: string;
  publicIps?: boolean;
  sharedFs: SharedFs; // ours: default 'nfs' for ec2, 'none' for local (one machine, one disk)
  /** ours: CIDR allowed to reach port 22. Default 0.0.0.0/0 (StarCluster's world-open SSH): the caller's
   * address is unknowable offline, so write e.g. `203.0.113.7/32` to restrict it. */
  sshCidr: string;
  /** ours: engines per node; absent = the node's core count. */
  enginesPerNode?: number;
  /** ours: LOGIN_USER, the image's login user; absent = from the image alias or AMI name, else root. */
  loginUser?: string;
  /** ours: TAGS, tags of the user's on every resource the cluster makes (tag policies, cost allocation). */
  tags?: Record<string, string>;
  /** ours: IAM_PROFILE, the instance profile (name or ARN) nodes get; access keys never go to nodes. */
  iamProfile?: string;
  /**
   * ours: MAX_LIFETIME (minutes): each node powers itself off this long after launch; nodes launch
   * with InstanceInitiatedShutdownBehavior = terminate, so that ends its bill (src/setup/autostop.ts).
   */
  maxLifetime?: number;
  /** ours: IDLE_SHUTDOWN (minutes): a node with no login, no Slurm job and idle engines this long powers off. */
  idleShutdown?: number;
  location?: SourceLocation;
}

export interface StarclusterConfig {
  /** The file that was read (after INCLUDEs, the main one). */
  path: string;
  global: GlobalSettings;
  aws: AwsSettings;
  keys: Map<string, KeySettings>;
  clusters: Map<string, ClusterTemplate>;
  volumes: Map<string, VolumeSettings>;
  plugins: Map<string, PluginSettings>;
  permissions: Map<string, PermissionSettings>;
  /**
   * What loaded but deserves a word, as `FILE:LINE: message` lines: a section written twice and
   * merged, a setting with no effect here, an unused section StarCluster would reject at `start`.
   * Commands show them (`config validate`, `start`); absent when there are none.
   */
  warnings?: string[];
}
