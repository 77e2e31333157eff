import { EC2ServiceException } from '@aws-sdk/client-ec2';

/** HTTP status EC2 answers with for an error code: 5xx for its own failures, 400 for everything else. */
function statusOf(code: string): number {
  if (code === 'InternalError' || code === 'InternalFailure') return 500;
  if (code === 'Unavailable' || code === 'ServiceUnavailable') return 503;
  if (code === 'RequestLimitExceeded' || code === 'Throttling') return 503;
  return 400;
}

/**
 * An error as the SDK hands EC2's answers to our code: an EC2ServiceException whose `name` is the
 * AWS error code (`InvalidInstanceID.NotFound`), with the status in `$metadata`.
 */
export function ec2Error(code: string, message = `fake EC2: ${code}`): EC2ServiceException {
  const status = statusOf(code);
  return new EC2ServiceException({
    name: code,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: 'fake-ec2' },
  });
}

/** EC2's answer to a DryRun request that would have succeeded. */
export function dryRunOperation(action: string): EC2ServiceException {
  return ec2Error('DryRunOperation', `Request would have succeeded, but DryRun flag is set (${action}).`);
}

/** The NotFound code EC2 uses for an unknown id, by the id's prefix. */
export function notFoundCode(id: string): string {
  const prefix = id.split('-')[0] ?? '';
  const codes: Record<string, string> = {
    i: 'InvalidInstanceID.NotFound',
    sg: 'InvalidGroup.NotFound',
    vol: 'InvalidVolume.NotFound',
    sir: 'InvalidSpotInstanceRequestID.NotFound',
    ami: 'InvalidAMIID.NotFound',
    snap: 'InvalidSnapshot.NotFound',
    key: 'InvalidKeyPair.NotFound',
    pg: 'InvalidPlacementGroup.Unknown',
    subnet: 'InvalidSubnetID.NotFound',
  };
  return codes[prefix] ?? 'InvalidID';
}
