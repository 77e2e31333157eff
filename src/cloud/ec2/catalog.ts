import { type Ec2Api } from './api.js';
import { isCode, isNotImplemented } from './errors.js';
import type { ImageCatalog } from './images.js';
import type { SsmParameters } from './ssm.js';

/** The lookups image resolution makes (src/cloud/ec2/images.ts), over EC2 and SSM. */
export function ec2ImageCatalog(api: Ec2Api, parameters: Pick<SsmParameters, 'get'>): ImageCatalog {
  return {
    region: api.region,
    describeImage: async (id) => {
      try {
        const image = (await api.describeImages({ imageIds: [id] }))[0];
        if (!image) return undefined;
        return {
          ...(image.Name ? { name: image.Name } : {}),
          ...(image.Architecture ? { architecture: image.Architecture } : {}),
          ...(image.State ? { state: image.State } : {}),
          ...(image.VirtualizationType ? { virtualizationType: image.VirtualizationType } : {}),
          ...(image.RootDeviceType ? { rootDeviceType: image.RootDeviceType } : {}),
        };
      } catch (error) {
        if (isCode(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable'))
          return undefined;
        throw error;
      }
    },
    describeInstanceType: async (type) => {
      try {
        const info = (await api.describeInstanceTypes([type])).find((t) => t.InstanceType === type);
        if (!info) return undefined;
        return {
          architectures: [...(info.ProcessorInfo?.SupportedArchitectures ?? [])],
          virtualizationTypes: [...(info.SupportedVirtualizationTypes ?? [])],
          rootDeviceTypes: [...(info.SupportedRootDeviceTypes ?? [])],
        };
      } catch (error) {
        if (isCode(error, 'InvalidInstanceType', 'InvalidParameterValue')) return undefined;
        throw error;
      }
    },
    parameter: (name) => parameters.get(name),
    zonesOffering: async (type) => {
      try {
        return await api.instanceTypeZones(type);
      } catch (error) {
        // An endpoint without offerings cannot tell; EC2 itself answers at launch.
        if (isNotImplemented(error)) return undefined;
        throw error;
      }
    },
    availabilityZones: async () => (await api.describeAvailabilityZones()).flatMap((z) => z.ZoneName ?? []),
    subnetZone: async (subnetId) => {
      try {
        return (await api.describeSubnets([subnetId]))[0]?.AvailabilityZone;
      } catch (error) {
        if (isCode(error, 'InvalidSubnetID.NotFound', 'InvalidSubnetID.Malformed')) return undefined;
        throw error;
      }
    },
  };
}
