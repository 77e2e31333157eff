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
"""

import time

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


_patch_ssm()
_patch_register_image()
