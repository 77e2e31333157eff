"""LocalStack init hook of the starcluster test fleet (localstack/start.sh installs it in ready.d).

LocalStack runs this once, inside its own process, when it is ready. It completes two things
moto's model leaves out, so the fleet can publish its images as real AWS does while the product
only ever uses the ordinary APIs (ssm:GetParameter, ec2:DescribeImages):

1. SSM public parameters. Real AWS publishes AMI ids under /aws/service/... (e.g.
   /aws/service/debian/release/12/latest/amd64); an account cannot write there, and moto refuses
   PutParameter under /aws/ as AWS does. Here a PutParameter under /aws/service/ is accepted when
   its Description starts with PUBLISHER_MARK (only the fleet writes that); every other caller still
   gets moto's refusal. GetParameter on those names then behaves as on AWS.
2. RegisterImage. moto records only Name and Description; here Architecture, RootDeviceName,
   VirtualizationType, EnaSupport, BootMode and the root volume's size and type are kept too, so
   DescribeImages shows what the real AMI shows.
3. CreateImage of a fleet host. moto makes the image `available` at once and images nothing. For an
   instance of the running fleet's subnet, the image starts `pending` and a request is left for the
   fleet (FLEET_STATE/image-requests/<ami>.json: instance, NoReboot); the fleet reboots the host
   unless NoReboot, snapshots its filesystem into a layer and writes <ami>.done (or <ami>.failed: the
   reason). DescribeImages then shows `available` (or `failed`), as EC2 does when the snapshot is
   complete. A request the fleet dropped unanswered (fleet stopped) makes the image `failed`.
   FLEET_STATE comes from start.sh (STARCLUSTER_FLEET_STATE).
4. RebootInstances of a fleet host. moto only notes it; here each running instance of the running
   fleet's subnet also gets a request, FLEET_STATE/reboot-requests/<instance>.<n>, and the fleet
   reboots its host in its next round (every process ends; disk, address and host keys stay).
"""

import json
import os
import time
from pathlib import Path

PUBLISHER_MARK = "starcluster test fleet:"


def _patch_ssm() -> None:
    from moto.ssm.models import Parameter, SimpleSystemManagerBackend

    original = SimpleSystemManagerBackend.put_parameter
    if getattr(original, "_starcluster_fleet", False):
        return

    def put_parameter(self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite,
                      tags, data_type, tier, policies):  # fmt: skip
        if not (name.startswith("/aws/service/") and (description or "").startswith(PUBLISHER_MARK)):
            return original(self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite,
                            tags, data_type, tier, policies)  # fmt: skip
        versions = self._parameters[name]  # first use loads moto's own public values: ours come after
        param = Parameter(
            account_id=self.account_id,
            name=name,
            value=value,
            parameter_type=parameter_type or "String",
            description=description,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=time.time(),
            version=(versions[-1].version + 1) if versions else 1,
            data_type=data_type or "text",
            tier=tier or "Standard",
            policies=None,
        )
        versions.append(param)
        return param

    put_parameter._starcluster_fleet = True
    SimpleSystemManagerBackend.put_parameter = put_parameter


def _patch_register_image() -> None:
    from moto.ec2.models.amis import Ami
    from moto.ec2.responses.amis import AmisResponse

    original = AmisResponse.register_image
    if getattr(original, "_starcluster_fleet", False):
        return

    def register_image(self):
        result = original(self)
        ami = self.ec2_backend.amis[result.result["ImageId"]] if hasattr(result, "result") else None
        if ami is None:
            return result
        ami.architecture = self._get_param("Architecture") or ami.architecture
        ami.root_device_name = self._get_param("RootDeviceName") or ami.root_device_name
        ami.virtualization_type = self._get_param("VirtualizationType") or ami.virtualization_type
        ami.boot_mode = self._get_param("BootMode") or ami.boot_mode
        ami.root_device_type = "ebs"
        ami.image_type = "machine"
        ami.state = "available"
        if self._get_param("EnaSupport") is not None:
            ami.ena_support = str(self._get_param("EnaSupport")).lower() == "true"
        root = {}
        for mapping in self._get_param("BlockDeviceMappings") or []:
            if mapping.get("DeviceName") == ami.root_device_name:
                root = mapping.get("Ebs") or {}
        ami._starcluster_root = {
            "VolumeSize": int(root.get("VolumeSize", 8)),
            "VolumeType": root.get("VolumeType", "gp3"),
        }
        return result

    register_image._starcluster_fleet = True
    AmisResponse.register_image = register_image

    block_device_mappings = Ami.block_device_mappings

    def mappings(self):
        out = block_device_mappings.fget(self)
        root = getattr(self, "_starcluster_root", None)
        if root:
            for m in out:
                m["Ebs"].update(root, DeleteOnTermination=True)
        return out

    Ami.block_device_mappings = property(mappings)


def _fleet_state() -> Path | None:
    state = os.environ.get("STARCLUSTER_FLEET_STATE")
    return Path(state) if state else None


def _fleet_subnet(state: Path) -> str | None:
    """The subnet of the fleet of this checkout, while its reconciler runs."""
    try:
        pid = int((state / "reconciler.pid").read_text().strip())
        os.kill(pid, 0)
        return (state / "subnet").read_text().strip() or None
    except (OSError, ValueError):
        return None


def _refresh(backend) -> None:
    """Pending fleet images become available (or failed) once the fleet has answered their request."""
    for ami in list(backend.amis.values()):
        request = getattr(ami, "_starcluster_request", None)
        if request is None or ami.state != "pending":
            continue
        done, failed = request.with_suffix(".done"), request.with_suffix(".failed")
        if done.exists():
            ami.state = "available"
        elif failed.exists() or not request.exists():
            ami.state = "failed"
            reason = failed.read_text(errors="replace").strip() if failed.exists() else "the test fleet stopped"
            ami.state_reason = {"Code": "Client.FleetSnapshotFailed", "Message": reason[:200]}
        else:
            continue
        ami._starcluster_request = None


def _patch_create_image() -> None:
    from moto.ec2.responses.amis import AmisResponse

    original = AmisResponse.create_image
    if getattr(original, "_starcluster_fleet", False):
        return

    def create_image(self):
        result = original(self)
        state = _fleet_state()
        image_id = result.result["ImageId"] if hasattr(result, "result") else None
        ami = self.ec2_backend.amis.get(image_id) if image_id else None
        instance_id = self._get_param("InstanceId")
        if ami is None or state is None:
            return result
        subnet = _fleet_subnet(state)
        instance = self.ec2_backend.get_instance(instance_id)
        if not subnet or getattr(instance, "subnet_id", None) != subnet:
            return result
        requests = state / "image-requests"
        requests.mkdir(parents=True, exist_ok=True)
        request = requests / f"{image_id}.json"
        no_reboot = str(self._get_param("NoReboot", False)).lower() == "true"
        body = {"image": image_id, "instance": instance_id, "noReboot": no_reboot, "name": ami.name}
        tmp = request.with_suffix(".tmp")
        tmp.write_text(json.dumps(body) + "\n")
        tmp.rename(request)
        ami.state = "pending"
        ami._starcluster_request = request
        return result

    create_image._starcluster_fleet = True
    AmisResponse.create_image = create_image

    for name in ("describe_images", "describe_image_attribute"):
        describe = getattr(AmisResponse, name)

        def refreshed(self, _describe=describe):
            _refresh(self.ec2_backend)
            return _describe(self)

        setattr(AmisResponse, name, refreshed)


def _patch_reboot_instances() -> None:
    from moto.ec2.responses.instances import InstanceResponse

    original = InstanceResponse.reboot_instances
    if getattr(original, "_starcluster_fleet", False):
        return

    def reboot_instances(self):
        result = original(self)
        state = _fleet_state()
        subnet = _fleet_subnet(state) if state else None
        if not subnet:
            return result
        requests = state / "reboot-requests"
        for instance_id in self._get_param("InstanceIds", []):
            instance = self.ec2_backend.get_instance(instance_id)
            if getattr(instance, "subnet_id", None) != subnet or instance.state != "running":
                continue
            requests.mkdir(parents=True, exist_ok=True)
            (requests / f"{instance_id}.{time.time_ns()}").write_text("")
        return result

    reboot_instances._starcluster_fleet = True
    InstanceResponse.reboot_instances = reboot_instances


_patch_ssm()
_patch_register_image()
_patch_create_image()
_patch_reboot_instances()
