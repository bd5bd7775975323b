from django.urls import path

from accounts import skip_link_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("preferences/", views.PreferencesView.as_view(), name="preferences"),
    path("deliveries/<int:pk>/skip/", views.DeliverySkipView.as_view(), name="delivery_skip"),
    path("deliveries/<int:pk>/unskip/", views.DeliveryUnskipView.as_view(), name="delivery_unskip"),
    path("deliveries/<int:pk>/move/", views.DeliveryMoveView.as_view(), name="delivery_move"),
    path("deliveries/<int:pk>/details/", views.DeliveryDetailsView.as_view(), name="delivery_details"),
    path("deliveries/skip/", skip_link_views.DeliverySkipConfirmView.as_view(), name="delivery_skip_confirm"),
    path(
        "deliveries/skip/<str:token>/",
        skip_link_views.DeliverySkipLinkView.as_view(),
        name="delivery_skip_link",
    ),
    path("message/", views.ManagerMessageView.as_view(), name="manager_message"),
    path("pause/", views.PauseView.as_view(), name="pause"),
    path("my-data/", views.MyDataView.as_view(), name="my_data"),
    path("my-data/download/", views.MyDataDownloadView.as_view(), name="my_data_download"),
    path("resume/", views.ResumeView.as_view(), name="resume"),
    path("close/", views.CloseView.as_view(), name="close"),
    path("reopen/", views.ReopenView.as_view(), name="reopen"),
]
