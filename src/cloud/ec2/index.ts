// What src/cloud/index.ts loads lazily (so a local cluster never loads the AWS SDK); the rest of
// cloud/ec2 is imported from its own modules.
export { Ec2Api } from './api.js';
export { Ec2Provider } from './provider.js';
export type { Ec2ProviderOptions } from './provider.js';
export { ec2SettingsFromConfig, type Ec2ClientSettings } from './settings.js';
export { resolveRegion, type RegionChoice } from './region.js';
