export { Ec2Api, awsErrorCode, isCode } from './api.js';
export { Ec2Provider, launchToken, toNodeRecord, TAG_LAUNCH_ALIASES, TAG_TEMPLATE, TAG_VERSION } from './provider.js';
export type { Ec2ProviderOptions, SecurityGroupInfo, SgRule } from './provider.js';
export { ec2SettingsFromConfig, type Ec2ClientSettings } from './settings.js';
export { fingerprintsOfPrivateKey, fingerprintMatches, type KeyFingerprints } from './fingerprint.js';
export { onDemandPrice, supportsPlacementGroup } from './prices.js';
