module github.com/fieldsync/fieldsync/plugins/rescocloud

go 1.26
