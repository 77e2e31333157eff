import { describe, expect, it } from 'vitest';
import { EC2_INSTANCE_TYPES } from '../../../src/config/instance-types.js';
import { instanceTypeProblem } from '../../../src/config/schema.js';
import { sdkInstanceTypes } from '../../_helpers/gen-instance-types.js';

describe('EC2 instance types', () => {
  it("are the AWS SDK's own list (regenerate with `npx tsx test/_helpers/gen-instance-types.ts`)", () => {
    expect([...EC2_INSTANCE_TYPES].sort()).toEqual(sdkInstanceTypes());
  });

  it("know StarCluster's types and today's, and say why a type is not one", () => {
    for (const type of ['m1.small', 'c1.xlarge', 't1.micro', 'cc2.8xlarge', 'c7g.large', 'm5.large']) {
      expect(instanceTypeProblem(type)).toBeUndefined();
    }
    expect(instanceTypeProblem('m5.larg')).toBe('"m5.larg" is not an EC2 instance type (did you mean m5.large?)');
    expect(instanceTypeProblem('c1.asdf')).toBe(
      '"c1.asdf" is not an EC2 instance type; the c1 types are c1.medium, c1.xlarge',
    );
    expect(instanceTypeProblem('nosuchfamily.large')).toMatch(
      /^"nosuchfamily.large" is not an EC2 instance type: no family "nosuchfamily"/,
    );
    expect(instanceTypeProblem('M1 small')).toBe('"M1 small" is not an instance type such as m1.small or c5.large');
  });
});
