/**
 * The tags a cluster's resources carry in the cloud, which is the source of truth: membership,
 * roles and names on every node; the template, version and description on the cluster's group;
 * the run id on everything one `start`/`addnode` run creates, so its rollback finds even what it
 * never saw.
 */
export const TAG_CLUSTER = 'starcluster:cluster';
export const TAG_ROLE = 'starcluster:role';
export const TAG_ALIAS = 'starcluster:alias';
export const TAG_NAME = 'Name';
/** The user to log in as on the node's image (absent: root), written at launch. */
export const TAG_LOGIN_USER = 'starcluster:login-user';
/** The template a cluster was started from (on its security group): later commands rebuild its settings. */
export const TAG_TEMPLATE = 'starcluster:template';
export const TAG_VERSION = 'starcluster:version';
/** The cluster's description (`start -d`), on its security group. */
export const TAG_DESCRIPTION = 'starcluster:description';
/** On everything one `start`/`addnode` run creates. */
export const TAG_RUN = 'starcluster:run';
/** How a blank volume is formatted (createvolume's `-m`), and how a grown one's filesystem is grown. */
export const TAG_MKFS = 'starcluster:mkfs';
export const TAG_RESIZEFS = 'starcluster:resizefs';

export const STARCLUSTER_VERSION = '0.1.0';
