export { FakeEc2 } from './fake.js';
export type { FakeEc2Options, InstanceRec } from './store.js';
export type { FaultRule, CallRecord } from './faults.js';
export { defaultCatalog, type Catalog } from './catalog.js';
export { ec2Error } from './errors.js';
