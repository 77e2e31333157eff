/**
 * The StarCluster-compatible config layer: the only code that reads the INI file. Everything
 * else receives typed settings (types.ts).
 */
export { loadConfig, SECRET_SETTING } from './load.js';
export type { LoadConfigOptions } from './load.js';
export { resolveConfigPath, locateConfigPath, expandHome } from './paths.js';
export type { ConfigPathSource } from './paths.js';
export { getClusterTemplate, describeTemplate, renderTemplate, MASKED } from './templates.js';
export { awsClientSettings } from './aws.js';
export type { AwsClientSettings } from './aws.js';
export { initConfig, validateConfig, showTemplate, configPathInfo, CONFIG_TEMPLATE_PATH } from './manage.js';
export type { ConfigInitResult, ConfigValidateResult, ConfigPathInfo } from './manage.js';
export type * from './types.js';
