/** A node as every layer sees it: what the cloud reports about one machine (or local process) of a cluster. */
export type NodeRole = 'master' | 'node';
export type NodeState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export interface NodeRecord {
  /** Instance id (EC2) or a local id. */
  id: string;
  cluster: string;
  /** `master`, `node001`, ... (without DNS prefix). */
  alias: string;
  role: NodeRole;
  state: NodeState;
  instanceType: string;
  imageId?: string;
  zone?: string;
  privateIp?: string;
  /** Recorded, never connected to by tests: LocalStack invents these. */
  publicIp?: string;
  keyName?: string;
  launchTime?: Date;
  spotRequestId?: string;
  /**
   * The user to log in as over SSH (then sudo): the image's own (`admin`, `ubuntu`, `ec2-user`)
   * or LOGIN_USER. Absent: root, as on images whose user data lets root in.
   */
  loginUser?: string;
  tags: Record<string, string>;
}
