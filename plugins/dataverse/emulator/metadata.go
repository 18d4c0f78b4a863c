package emulator

import (
	"fmt"
	"html"
	"net/http"
	"strings"
)

// metadata serves $metadata: a CSDL document of the model. Like
// Dataverse, annotations (the Org.OData.Capabilities.V1.ChangeTracking
// term on change-tracked entity sets) are included only with
// ?annotations=true (Microsoft: "Use change tracking…", "Web API service
// documents").
func (k *call) metadata(w http.ResponseWriter, r *http.Request) error {
	withAnnotations := r.URL.Query().Get("annotations") == "true"
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("OData-Version", "4.0")
	w.Write([]byte(csdl(withAnnotations)))
	return nil
}

func csdl(annotations bool) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:Reference Uri="https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml">
    <edmx:Include Namespace="Org.OData.Core.V1" Alias="Core" />
  </edmx:Reference>
  <edmx:Reference Uri="https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml">
    <edmx:Include Namespace="Org.OData.Capabilities.V1" Alias="Capabilities" />
  </edmx:Reference>
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="crmbaseentity" Abstract="true" />
`)
	for _, n := range entityOrder {
		e := model[n]
		fmt.Fprintf(&b, "      <EntityType Name=\"%s\" BaseType=\"mscrm.crmbaseentity\">\n", e.Name)
		fmt.Fprintf(&b, "        <Key>\n          <PropertyRef Name=\"%s\" />\n        </Key>\n", e.PrimaryKey)
		for _, a := range e.Attributes {
			extra := ""
			if a.MaxLength > 0 {
				extra = fmt.Sprintf(` MaxLength="%d"`, a.MaxLength)
			}
			if a.Kind == KindMoney {
				extra = ` Scale="Variable"`
			}
			if a.Kind == KindDateTime {
				extra = ` Precision="0"`
			}
			fmt.Fprintf(&b, "        <Property Name=\"%s\" Type=\"%s\"%s", a.jsonName(), a.Kind.edmType(), extra)
			if a.Kind == KindLookup || a.Kind == KindChoice || a.ReadOnly {
				b.WriteString(">\n")
				if a.Kind == KindLookup {
					fmt.Fprintf(&b, "          <Annotation Term=\"Org.OData.Core.V1.Description\" String=\"lookup %s to %s\" />\n", a.Name, strings.Join(a.Targets, ", "))
				}
				if a.Kind == KindChoice {
					var opts []string
					for _, c := range a.Choices {
						opts = append(opts, fmt.Sprintf("%d=%s", c.Value, c.Label))
					}
					fmt.Fprintf(&b, "          <Annotation Term=\"Org.OData.Core.V1.Description\" String=\"%s\" />\n", html.EscapeString(strings.Join(opts, "; ")))
				}
				if a.ReadOnly {
					b.WriteString("          <Annotation Term=\"Org.OData.Core.V1.Computed\" Bool=\"true\" />\n")
				}
				b.WriteString("        </Property>\n")
			} else {
				b.WriteString(" />\n")
			}
		}
		// Single-valued navigation properties of this entity's lookups.
		for _, a := range e.Attributes {
			for i, nav := range a.Navs {
				t := model[a.Targets[i]]
				fmt.Fprintf(&b, "        <NavigationProperty Name=\"%s\" Type=\"mscrm.%s\" Nullable=\"false\" Partner=\"%s\">\n", nav, t.Name, a.Partners[i])
				fmt.Fprintf(&b, "          <ReferentialConstraint Property=\"%s\" ReferencedProperty=\"%s\" />\n", a.jsonName(), t.PrimaryKey)
				b.WriteString("        </NavigationProperty>\n")
			}
		}
		// Collection-valued partners pointing at this entity.
		for _, cn := range entityOrder {
			ce := model[cn]
			for _, a := range ce.Attributes {
				for i, t := range a.Targets {
					if t == e.Name {
						fmt.Fprintf(&b, "        <NavigationProperty Name=\"%s\" Type=\"Collection(mscrm.%s)\" Partner=\"%s\" />\n", a.Partners[i], ce.Name, a.Navs[i])
					}
				}
			}
		}
		b.WriteString("      </EntityType>\n")
	}
	b.WriteString(`      <ComplexType Name="WhoAmIResponse">
        <Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false" />
        <Property Name="UserId" Type="Edm.Guid" Nullable="false" />
        <Property Name="OrganizationId" Type="Edm.Guid" Nullable="false" />
      </ComplexType>
      <ComplexType Name="InitializeAnnotationBlocksUploadResponse">
        <Property Name="FileContinuationToken" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="CommitAnnotationBlocksUploadResponse">
        <Property Name="AnnotationId" Type="Edm.Guid" Nullable="false" />
        <Property Name="FileSizeInBytes" Type="Edm.Int64" Nullable="false" />
      </ComplexType>
      <ComplexType Name="InitializeAnnotationBlocksDownloadResponse">
        <Property Name="FileContinuationToken" Type="Edm.String" />
        <Property Name="FileSizeInBytes" Type="Edm.Int64" Nullable="false" />
        <Property Name="FileName" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="EntityRecordCountCollection">
        <Property Name="Count" Type="Edm.Int32" Nullable="false" />
        <Property Name="IsReadOnly" Type="Edm.Boolean" Nullable="false" />
        <Property Name="Keys" Type="Collection(Edm.String)" />
        <Property Name="Values" Type="Collection(Edm.Int64)" />
      </ComplexType>
      <ComplexType Name="RetrieveTotalRecordCountResponse">
        <Property Name="EntityRecordCountCollection" Type="mscrm.EntityRecordCountCollection" />
      </ComplexType>
      <ComplexType Name="DownloadBlockResponse">
        <Property Name="Data" Type="Edm.Binary" />
      </ComplexType>
      <Function Name="WhoAmI">
        <ReturnType Type="mscrm.WhoAmIResponse" Nullable="false" />
      </Function>
      <Function Name="RetrieveTotalRecordCount">
        <Parameter Name="EntityNames" Type="Collection(Edm.String)" Nullable="false" />
        <ReturnType Type="mscrm.RetrieveTotalRecordCountResponse" Nullable="false" />
      </Function>
      <Action Name="InitializeAnnotationBlocksUpload">
        <Parameter Name="Target" Type="mscrm.crmbaseentity" Nullable="false" />
        <ReturnType Type="mscrm.InitializeAnnotationBlocksUploadResponse" Nullable="false" />
      </Action>
      <Action Name="UploadBlock">
        <Parameter Name="BlockId" Type="Edm.String" Nullable="false" Unicode="false" />
        <Parameter Name="BlockData" Type="Edm.Binary" Nullable="false" />
        <Parameter Name="FileContinuationToken" Type="Edm.String" Nullable="false" Unicode="false" />
      </Action>
      <Action Name="CommitAnnotationBlocksUpload">
        <Parameter Name="Target" Type="mscrm.crmbaseentity" Nullable="false" />
        <Parameter Name="BlockList" Type="Collection(Edm.String)" Nullable="false" Unicode="false" />
        <Parameter Name="FileContinuationToken" Type="Edm.String" Nullable="false" Unicode="false" />
        <ReturnType Type="mscrm.CommitAnnotationBlocksUploadResponse" Nullable="false" />
      </Action>
      <Action Name="InitializeAnnotationBlocksDownload">
        <Parameter Name="Target" Type="mscrm.crmbaseentity" Nullable="false" />
        <ReturnType Type="mscrm.InitializeAnnotationBlocksDownloadResponse" Nullable="false" />
      </Action>
      <Action Name="DownloadBlock">
        <Parameter Name="Offset" Type="Edm.Int64" Nullable="false" />
        <Parameter Name="BlockLength" Type="Edm.Int64" Nullable="false" />
        <Parameter Name="FileContinuationToken" Type="Edm.String" Nullable="false" Unicode="false" />
        <ReturnType Type="mscrm.DownloadBlockResponse" Nullable="false" />
      </Action>
      <EntityContainer Name="System">
`)
	for _, n := range entityOrder {
		e := model[n]
		fmt.Fprintf(&b, "        <EntitySet Name=\"%s\" EntityType=\"Microsoft.Dynamics.CRM.%s\">\n", e.SetName, e.Name)
		for _, a := range e.Attributes {
			for i, nav := range a.Navs {
				fmt.Fprintf(&b, "          <NavigationPropertyBinding Path=\"%s\" Target=\"%s\" />\n", nav, model[a.Targets[i]].SetName)
			}
		}
		if annotations && e.ChangeTracking {
			b.WriteString(`          <Annotation Term="Org.OData.Capabilities.V1.ChangeTracking">
            <Record>
              <PropertyValue Property="Supported" Bool="true" />
            </Record>
          </Annotation>
`)
		}
		b.WriteString("        </EntitySet>\n")
	}
	b.WriteString(`        <FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI" />
        <FunctionImport Name="RetrieveTotalRecordCount" Function="Microsoft.Dynamics.CRM.RetrieveTotalRecordCount" />
        <ActionImport Name="InitializeAnnotationBlocksUpload" Action="Microsoft.Dynamics.CRM.InitializeAnnotationBlocksUpload" />
        <ActionImport Name="UploadBlock" Action="Microsoft.Dynamics.CRM.UploadBlock" />
        <ActionImport Name="CommitAnnotationBlocksUpload" Action="Microsoft.Dynamics.CRM.CommitAnnotationBlocksUpload" />
        <ActionImport Name="InitializeAnnotationBlocksDownload" Action="Microsoft.Dynamics.CRM.InitializeAnnotationBlocksDownload" />
        <ActionImport Name="DownloadBlock" Action="Microsoft.Dynamics.CRM.DownloadBlock" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
`)
	return b.String()
}
