<!-- The VO test fixture's collection: three tiny synthetic FITS images published through ObsCore (TAP,
     SIA2 via DaCHS's sitewide service) with a DataLink/SODA service named in every TAP result. -->
<resource schema="vofix">
  <meta name="title">esap VO fixture images</meta>
  <meta name="description">Three 20x20 synthetic images used by the esap test suite.</meta>
  <meta name="creationDate">2026-01-01T00:00:00Z</meta>
  <meta name="creator.name">esap test suite</meta>
  <meta name="subject">Images</meta>
  <meta name="facility">esap synthetic observatory</meta>
  <meta name="instrument">esap-cam</meta>
  <meta name="coverage.waveband">Optical</meta>

  <table id="main" onDisk="True" mixin="//siap#pgs" adql="True">
    <mixin calib_level="2" obs_collection="'esap-fixture'" target_name="object"
      t_exptime="exptime" target_class="'field'">//obscore#publishSIAP</mixin>
    <meta name="_associatedDatalinkService">
      <meta name="serviceId">dl</meta>
      <meta name="idColumn">pubDID</meta>
    </meta>
    <column name="pubDID" type="text" ucd="meta.id;meta.main" tablehead="PubDID"
      description="Dataset identifier assigned by the publisher."/>
    <column name="object" type="text" ucd="meta.id;src" description="Observed field."/>
    <column name="exptime" unit="s" ucd="time.duration;obs.exposure" description="Exposure time."/>
  </table>

  <coverage>
    <updater sourceTable="main"/>
  </coverage>

  <data id="import">
    <sources pattern="data/*.fits"/>
    <fitsProdGrammar>
      <rowfilter procDef="//products#define">
        <bind key="table">"\schema.main"</bind>
      </rowfilter>
    </fitsProdGrammar>
    <make table="main">
      <rowmaker>
        <map key="pubDID">\standardPubDID</map>
        <map key="object">@OBJECT</map>
        <map key="exptime">@EXPTIME</map>
        <apply procDef="//siap#setMeta">
          <bind key="dateObs">parseTimestamp(@DATE_OBS)</bind>
          <bind key="bandpassId">@FILTER</bind>
          <bind key="instrument">@INSTRUME</bind>
          <bind key="title">"%s in %s"%(@OBJECT, @FILTER)</bind>
          <!-- wavelengths in metres: V 500-600 nm, R 590-730 nm -->
          <bind key="bandpassLo">{"V": 5.0e-7, "R": 5.9e-7}[@FILTER]</bind>
          <bind key="bandpassHi">{"V": 6.0e-7, "R": 7.3e-7}[@FILTER]</bind>
          <bind key="bandpassRefval">{"V": 5.5e-7, "R": 6.6e-7}[@FILTER]</bind>
        </apply>
        <apply procDef="//siap#computePGS"/>
      </rowmaker>
    </make>
  </data>

  <service id="dl" allowed="dlget,dlmeta">
    <meta name="title">esap VO fixture DataLink</meta>
    <datalinkCore>
      <descriptorGenerator procDef="//soda#fits_genDesc">
        <bind key="accrefPrefix">'vofix/data'</bind>
      </descriptorGenerator>
      <FEED source="//soda#fits_standardDLFuncs"/>
    </datalinkCore>
  </service>
</resource>
