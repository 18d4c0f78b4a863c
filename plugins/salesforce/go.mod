module github.com/fieldsync/fieldsync/plugins/salesforce

go 1.26
