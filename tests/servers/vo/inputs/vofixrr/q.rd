<!-- A tiny RegTAP registry: the RegTAP 1.1 tables pyvo.registry queries, filled from rows.json (written by
     tests/servers/vo/registry.py with the server's own URLs). DaCHS's ADQL engine supplies the RegTAP
     functions (ivo_hasword, ivo_string_agg, ...), so the registry queries pyvo sends run for real. -->
<resource schema="rr" resdir="vofixrr">
  <meta name="title">esap VO fixture registry</meta>
  <meta name="description">RegTAP records of the esap VO test fixture's services.</meta>
  <meta name="creationDate">2026-01-01T00:00:00Z</meta>
  <meta name="subject">Virtual observatory</meta>

  <table id="resource" onDisk="True" adql="True">
    <column name="ivoid" type="text"/>
    <column name="res_type" type="text"/>
    <column name="created" type="timestamp"/>
    <column name="short_name" type="text"/>
    <column name="res_title" type="text"/>
    <column name="updated" type="timestamp"/>
    <column name="content_level" type="text"/>
    <column name="res_description" type="text"/>
    <column name="reference_url" type="text"/>
    <column name="creator_seq" type="text"/>
    <column name="content_type" type="text"/>
    <column name="source_format" type="text"/>
    <column name="source_value" type="text"/>
    <column name="res_version" type="text"/>
    <column name="region_of_regard" type="real"/>
    <column name="waveband" type="text"/>
    <column name="rights" type="text"/>
    <column name="rights_uri" type="text"/>
    <column name="harvested_from" type="text"/>
  </table>

  <table id="capability" onDisk="True" adql="True">
    <column name="ivoid" type="text"/>
    <column name="cap_index" type="smallint"><values nullLiteral="-1"/></column>
    <column name="cap_name" type="text"/>
    <column name="cap_type" type="text"/>
    <column name="cap_description" type="text"/>
    <column name="standard_id" type="text"/>
  </table>

  <table id="interface" onDisk="True" adql="True">
    <column name="ivoid" type="text"/>
    <column name="cap_index" type="smallint"><values nullLiteral="-1"/></column>
    <column name="intf_index" type="smallint"><values nullLiteral="-1"/></column>
    <column name="intf_type" type="text"/>
    <column name="intf_role" type="text"/>
    <column name="std_version" type="text"/>
    <column name="query_type" type="text"/>
    <column name="result_type" type="text"/>
    <column name="wsdl_url" type="text"/>
    <column name="url_use" type="text"/>
    <column name="access_url" type="text"/>
    <column name="mirror_url" type="text"/>
    <column name="authenticated_only" type="smallint"><values nullLiteral="-1"/></column>
  </table>

  <table id="res_subject" onDisk="True" adql="True">
    <column name="ivoid" type="text"/>
    <column name="res_subject" type="text"/>
  </table>

  <table id="res_detail" onDisk="True" adql="True">
    <column name="ivoid" type="text"/>
    <column name="cap_index" type="smallint"><values nullLiteral="-1"/></column>
    <column name="detail_xpath" type="text"/>
    <column name="detail_value" type="text"/>
  </table>

  <data id="import">
    <sources pattern="rows.json"/>
    <embeddedGrammar isDispatching="True">
      <iterator>
        <code>
          import json
          with open(self.sourceToken) as f:
            tables = json.load(f)
          for table, rows in tables.items():
            for row in rows:
              yield table, row
        </code>
      </iterator>
    </embeddedGrammar>
    <make table="resource" role="resource"><rowmaker idmaps="*"/></make>
    <make table="capability" role="capability"><rowmaker idmaps="*"/></make>
    <make table="interface" role="interface"><rowmaker idmaps="*"/></make>
    <make table="res_subject" role="res_subject"><rowmaker idmaps="*"/></make>
    <make table="res_detail" role="res_detail"><rowmaker idmaps="*"/></make>
  </data>
</resource>
