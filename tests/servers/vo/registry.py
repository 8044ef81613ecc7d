"""The fixture registry's records (RegTAP rows per table), pointing at the running server's own URLs."""
import json

RESOURCE_COLUMNS = ("ivoid", "res_type", "created", "short_name", "res_title", "updated", "content_level",
                    "res_description", "reference_url", "creator_seq", "content_type", "source_format",
                    "source_value", "res_version", "region_of_regard", "waveband", "rights", "rights_uri",
                    "harvested_from")
SIA2_PATH = "/__system__/siap2/sitewide/siap2.xml"


def _resource(ivoid: str, short_name: str, title: str, description: str) -> dict:
    row = dict.fromkeys(RESOURCE_COLUMNS)
    row.update(ivoid=ivoid, res_type="vs:catalogservice", short_name=short_name, res_title=title,
               content_level="research", res_description=description, waveband="optical",
               creator_seq="esap test suite")
    return row


def _service(ivoid: str, standard_id: str, cap_type: str, access_url: str) -> tuple[dict, dict]:
    capability = {"ivoid": ivoid, "cap_index": 1, "cap_name": None, "cap_type": cap_type,
                  "cap_description": None, "standard_id": standard_id}
    interface = {"ivoid": ivoid, "cap_index": 1, "intf_index": 1, "intf_type": "vs:paramhttp",
                 "intf_role": "std", "std_version": None, "query_type": None, "result_type": None,
                 "wsdl_url": None, "url_use": "base", "access_url": access_url, "mirror_url": None,
                 "authenticated_only": 0}
    return capability, interface


def rows_json(base_url: str, authority: str) -> str:
    tap, sia2 = f"ivo://{authority}/tap", f"ivo://{authority}/sia2"
    tap_capability, tap_interface = _service(tap, "ivo://ivoa.net/std/tap", "tr:tableaccess",
                                             f"{base_url}/tap")
    sia_capability, sia_interface = _service(sia2, "ivo://ivoa.net/std/sia#query-2.0",
                                             "sia:simpleimageaccess", f"{base_url}{SIA2_PATH}")
    return json.dumps({
        "resource": [
            _resource(tap, "esap TAP", "esap fixture TAP service",
                      "Table access to the esap VO test fixture: ObsCore rows of synthetic images."),
            _resource(sia2, "esap SIA2", "esap fixture image search",
                      "SIA2 image search over the esap VO test fixture's ObsCore table."),
        ],
        "capability": [tap_capability, sia_capability],
        "interface": [tap_interface, sia_interface],
        "res_subject": [{"ivoid": tap, "res_subject": "Images"}, {"ivoid": sia2, "res_subject": "Images"}],
        "res_detail": [{"ivoid": tap, "cap_index": 1, "detail_xpath": "/capability/dataModel/@ivo-id",
                        "detail_value": "ivo://ivoa.net/std/ObsCore#core-1.1"}],
    }, indent=1)
