module github.com/fieldsync/fieldsync/plugins/dataverse

go 1.26
