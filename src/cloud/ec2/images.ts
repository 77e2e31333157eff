import {
  ARCHITECTURES,
  architectureFromTypeName,
  IMAGE_ALIASES,
  loginUserFromImageName,
  parseImageRef,
  type Architecture,
} from '../images.js';
import type { ImageCheckOptions, ImageRequest, ImageResolution, LaunchProblem, ResolvedImage } from '../provider.js';

/** What DescribeImages says of an image (the fields the checks use). */
export interface CatalogImage {
  name?: string;
  architecture?: string;
  state?: string;
  /** `hvm` or `paravirtual`. */
  virtualizationType?: string;
  /** `ebs` or `instance-store`. */
  rootDeviceType?: string;
}

/** What DescribeInstanceTypes says of a type; each list is [] when EC2 lists nothing. */
export interface CatalogInstanceType {
  /** ProcessorInfo.SupportedArchitectures. */
  architectures: string[];
  virtualizationTypes: string[];
  rootDeviceTypes: string[];
}

/**
 * Image resolution for EC2 over the lookups it needs, so the rules can be tested against a small
 * fake and run against EC2 + SSM (Ec2Provider) unchanged.
 */
export interface ImageCatalog {
  readonly region: string;
  /** The image, or undefined when EC2 has none by that id. */
  describeImage(id: string): Promise<CatalogImage | undefined>;
  /** The type, or undefined when the region has no such type. */
  describeInstanceType(instanceType: string): Promise<CatalogInstanceType | undefined>;
  /** A parameter's value, or undefined when there is no parameter by that name. */
  parameter(name: string): Promise<string | undefined>;
  /** The zones of the region that offer the type (DescribeInstanceTypeOfferings); undefined: cannot tell. */
  zonesOffering?(instanceType: string): Promise<string[] | undefined>;
  /** The zone of a subnet; undefined when there is no such subnet (validation reports it). */
  subnetZone?(subnetId: string): Promise<string | undefined>;
  /** The region's zones: a zone not among them is reported as unknown elsewhere, not here. */
  availabilityZones?(): Promise<string[]>;
}

/** What an instance type runs: from EC2's own list when it has one, else from the type's name. */
export function architectureOfType(instanceType: string, supported: readonly string[]): Architecture {
  const known = ARCHITECTURES.filter((a) => supported.includes(a));
  // Types that run both (none today) take x86_64, the architecture of more images.
  if (known.length) return known.includes('x86_64') ? 'x86_64' : 'arm64';
  return architectureFromTypeName(instanceType);
}

/**
 * Resolves every request (alias → the SSM parameter for the type's architecture → AMI id;
 * `resolve:ssm:NAME` → AMI id; ami-… as is), then checks what EC2 would otherwise refuse only at
 * launch: each type exists (and is offered in the zone, when one is known), each AMI exists, is
 * available, and fits its type (architecture, virtualization, root device). Every problem is
 * collected; nothing is launched here.
 */
export async function resolveImagesWith(
  catalog: ImageCatalog,
  requests: readonly ImageRequest[],
  options: Omit<ImageCheckOptions, 'signal'> = {},
): Promise<ImageResolution> {
  const problems: LaunchProblem[] = [];
  const unique = dedupe(requests);
  const types = [...new Set(unique.map((r) => r.instanceType))];
  const typeArch = await lookUpTypes(catalog, types, problems);
  await checkZoneOffers(
    catalog,
    types.filter((type) => typeArch.get(type)),
    options,
    problems,
  );
  const parameters = new Map<string, Promise<string | undefined>>();
  const resolved = await Promise.all(unique.map((r) => resolveRef(catalog, r, typeArch, parameters, problems)));
  const images = new Map<string, Promise<CatalogImage | undefined>>();
  const checked = await Promise.all(resolved.map((r) => r && checkImage(catalog, r, typeArch, images, problems)));
  // Request order, whatever order the lookups finished in.
  const out = checked.filter((i): i is ResolvedImage => i !== undefined);
  const order = (i: ResolvedImage): number => unique.indexOf(i.request);
  out.sort((a, b) => order(a) - order(b));
  return { images: out, problems: sortProblems(problems) };
}

type TypeInfo = CatalogInstanceType & { arch: Architecture };

/** Instance types: one lookup each; an unknown type is a problem. */
async function lookUpTypes(
  catalog: ImageCatalog,
  types: readonly string[],
  problems: LaunchProblem[],
): Promise<Map<string, TypeInfo | undefined>> {
  const region = catalog.region;
  const typeArch = new Map<string, TypeInfo | undefined>();
  await Promise.all(
    types.map(async (type) => {
      const info = await catalog.describeInstanceType(type);
      if (info === undefined) {
        typeArch.set(type, undefined);
        problems.push({
          kind: 'cloud',
          code: 'UnknownInstanceType',
          message: `instance type ${type} is not offered in ${region}: check the spelling`,
        });
      } else typeArch.set(type, { ...info, arch: architectureOfType(type, info.architectures) });
    }),
  );
  return typeArch;
}

/** The zone the nodes go to, when the config pins one: every type must be offered there. */
async function checkZoneOffers(
  catalog: ImageCatalog,
  types: readonly string[],
  options: Omit<ImageCheckOptions, 'signal'>,
  problems: LaunchProblem[],
): Promise<void> {
  const zone =
    options.zone ?? (options.subnetId && catalog.subnetZone ? await catalog.subnetZone(options.subnetId) : undefined);
  const known = zone && catalog.zonesOffering && catalog.availabilityZones ? await catalog.availabilityZones() : [];
  if (zone && catalog.zonesOffering && known.includes(zone)) {
    const offering = catalog.zonesOffering.bind(catalog);
    await Promise.all(
      types.map(async (type) => {
        const zones = await offering(type);
        if (zones && !zones.includes(zone))
          problems.push({
            kind: 'cloud',
            code: 'InstanceTypeNotInZone',
            message: `instance type ${type} is not offered in ${zone}${
              options.zone ? ' (AVAILABILITY_ZONE)' : ` (the zone of SUBNET_ID ${options.subnetId ?? ''})`
            }${zones.length ? `; it is in ${zones.sort().join(', ')}` : ''}: choose one of those, or another type`,
          });
      }),
    );
  }
}

/** An alias or resolve:ssm: as the AMI id its parameter holds (each parameter read once); an id as written. */
async function resolveRef(
  catalog: ImageCatalog,
  request: ImageRequest,
  typeArch: ReadonlyMap<string, TypeInfo | undefined>,
  parameters: Map<string, Promise<string | undefined>>,
  problems: LaunchProblem[],
): Promise<ResolvedImage | undefined> {
  const region = catalog.region;
  const readParameter = (name: string): Promise<string | undefined> => {
    let value = parameters.get(name);
    if (!value) parameters.set(name, (value = catalog.parameter(name)));
    return value;
  };
  const where = request.setting ? `${request.setting} ` : '';
  const ref = parseImageRef(request.image);
  if (ref.kind === 'bad') {
    problems.push({ kind: 'config', code: 'UnknownImage', message: `${where}${ref.message}` });
    return undefined;
  }
  if (ref.kind === 'ami') return { request, imageId: ref.id };
  const type = typeArch.get(request.instanceType);
  if (ref.kind === 'alias' && !type) return undefined; // the type is reported; no architecture to pick
  const parameter = ref.kind === 'alias' ? ref.image.parameters[type?.arch ?? 'x86_64'] : ref.parameter;
  const value = (await readParameter(parameter))?.trim();
  const what =
    ref.kind === 'alias'
      ? `image alias ${ref.image.alias} (${type?.arch ?? ''}, for ${request.instanceType})`
      : `resolve:ssm:${parameter}`;
  if (value === undefined) {
    problems.push({
      kind: 'cloud',
      code: 'ImageParameterNotFound',
      message: `${where}${what}: SSM parameter ${parameter} does not exist in ${region}${
        ref.kind === 'alias' ? '; choose another alias or region, or give an AMI id' : ': check the name and the region'
      }`,
    });
    return undefined;
  }
  if (!/^ami-[0-9a-z]+$/i.test(value)) {
    problems.push({
      kind: 'cloud',
      code: 'ImageParameterNotAmi',
      message: `${where}${what}: SSM parameter ${parameter} holds ${JSON.stringify(value.slice(0, 40))}, not an AMI id`,
    });
    return undefined;
  }
  return {
    request,
    imageId: value,
    parameter,
    ...(ref.kind === 'alias' ? { loginUser: ref.image.loginUser } : {}),
  };
}

/** The AMI exists, is available, and fits the type (architecture, virtualization, root device). */
async function checkImage(
  catalog: ImageCatalog,
  r: ResolvedImage,
  typeArch: ReadonlyMap<string, TypeInfo | undefined>,
  images: Map<string, Promise<CatalogImage | undefined>>,
  problems: LaunchProblem[],
): Promise<ResolvedImage | undefined> {
  const region = catalog.region;
  let lookup = images.get(r.imageId);
  if (!lookup) images.set(r.imageId, (lookup = catalog.describeImage(r.imageId)));
  const image = await lookup;
  const where = r.request.setting ? `${r.request.setting} ` : '';
  const via = r.parameter ? ` (${r.request.image}, from SSM parameter ${r.parameter})` : '';
  if (!image) {
    problems.push({
      kind: 'cloud',
      code: 'ImageNotFound',
      message: `${where}AMI ${r.imageId}${via} does not exist in ${region}: check the id and the region`,
    });
    return undefined;
  }
  if (image.state && image.state !== 'available') {
    problems.push({
      kind: 'cloud',
      code: 'ImageNotAvailable',
      message: `${where}AMI ${r.imageId}${via} is ${image.state}, not available`,
    });
    return undefined;
  }
  const type = typeArch.get(r.request.instanceType);
  const arch = image.architecture;
  const named = `${where}AMI ${r.imageId}${image.name ? ` (${image.name})` : ''}${via}`;
  const aliases = `an image alias (${IMAGE_ALIASES.join(', ')})`;
  const fits = !type || !arch || (type.architectures.length ? type.architectures.includes(arch) : arch === type.arch);
  if (!fits && type && arch) {
    problems.push({
      kind: 'config',
      code: 'ArchitectureMismatch',
      message:
        `${named} is ${arch}, but instance type ${r.request.instanceType} runs ` +
        `${type.architectures.length ? type.architectures.join('/') : type.arch}: use an ${type.arch} AMI, ` +
        `an instance type for ${arch}, or ${aliases}, which picks the AMI for the instance type's architecture`,
    });
    return undefined;
  }
  // StarCluster's own AMIs are paravirtual: current types boot only hvm.
  const virt = image.virtualizationType;
  if (type && virt && type.virtualizationTypes.length && !type.virtualizationTypes.includes(virt)) {
    problems.push({
      kind: 'config',
      code: 'VirtualizationMismatch',
      message:
        `${named} is a ${virt} image, but instance type ${r.request.instanceType} boots only ` +
        `${type.virtualizationTypes.join('/')}: use an ${type.virtualizationTypes.join('/')} AMI or ${aliases}`,
    });
    return undefined;
  }
  // AWS's root device types are `ebs` and `instance-store`; anything else (LocalStack reports
  // `standard` for an image made by CreateImage, which AWS makes EBS-backed) says nothing.
  const root =
    image.rootDeviceType === 'ebs' || image.rootDeviceType === 'instance-store' ? image.rootDeviceType : undefined;
  if (type && root && type.rootDeviceTypes.length && !type.rootDeviceTypes.includes(root)) {
    problems.push({
      kind: 'config',
      code: 'RootDeviceMismatch',
      message:
        `${named} boots from ${root}, which instance type ${r.request.instanceType} does not offer ` +
        `(${type.rootDeviceTypes.join('/')}): use an EBS-backed AMI or ${aliases}`,
    });
    return undefined;
  }
  const loginUser = r.loginUser ?? loginUserFromImageName(image.name);
  return {
    ...r,
    ...(arch ? { architecture: arch } : {}),
    ...(image.name ? { imageName: image.name } : {}),
    ...(loginUser ? { loginUser } : {}),
  };
}

/** The requests, once per (image, instance type); the settings that asked for each are joined. */
function dedupe(requests: readonly ImageRequest[]): ImageRequest[] {
  const byKey = new Map<string, ImageRequest>();
  for (const r of requests) {
    const key = `${r.image}\0${r.instanceType}`;
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, { ...r });
    else if (r.setting && !seen.setting?.split('/').includes(r.setting))
      seen.setting = seen.setting ? `${seen.setting}/${r.setting}` : r.setting;
  }
  return [...byKey.values()];
}

/** Stable order for messages (the lookups run in parallel). */
function sortProblems(problems: LaunchProblem[]): LaunchProblem[] {
  return [...problems].sort((a, b) => a.message.localeCompare(b.message));
}
