export { Ec2Api, awsErrorCode, isCode } from './api.js';
export { Ec2Provider, launchToken, toNodeRecord, TAG_LAUNCH_ALIASES } from './provider.js';
export type { Ec2ProviderOptions, SecurityGroupInfo, SgRule } from './provider.js';
export { ec2SettingsFromConfig, ssmEndpointFrom, type Ec2ClientSettings } from './settings.js';
export { resolveRegion, type RegionChoice } from './region.js';
export { resolveImagesWith, architectureOfType, type ImageCatalog } from './images.js';
export { SsmParameters } from './ssm.js';
export { fingerprintsOfPrivateKey, fingerprintMatches, type KeyFingerprints } from './fingerprint.js';
export { onDemandPrice, supportsPlacementGroup } from './prices.js';
