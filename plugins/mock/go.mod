module github.com/fieldsync/fieldsync/plugins/mock

go 1.26
